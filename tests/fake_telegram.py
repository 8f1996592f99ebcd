"""A fake Telegram Bot API server on 127.0.0.1 for the tests and the benchmark.

It speaks the real wire format (`/bot<token>/<method>`, JSON / form / multipart
bodies, `{"ok": …}` answers) for the methods strikewire uses, enforces the real
flood limits with HTTP 429 + `parameters.retry_after`, answers the real error
texts for chats a test marks as blocked, deactivated, not found, kicked,
migrated, too long or bad HTML, adds a configurable latency with jitter and
random 502s (seeded), and records every
message it accepted. Tests inject incoming messages; a webhook, when set, gets
them POSTed like Telegram does. The `/_fake/*` routes let the benchmark drive
a server running in another process (`python -m tests.fake_telegram`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientSession, web

from tests.fake_telegram_files import FakeFile, FakeFiles
from tests.fake_telegram_media import CAPTION_LIMIT, FakeMedia, Upload
from tests.fake_telegram_wire import (
    JSON,
    ApiError,
    FakeChat,
    FakeUser,
    SentMessage,
    Window,
    chat_id_of,
    check_html,
    flag,
    parsed_field,
)

__all__ = ["FakeChat", "FakeFile", "FakeTelegram", "FakeUser", "SentMessage", "check_html"]


class FakeTelegram:
    """The server. Configure its knobs, `await start()`, point PTB at `base_url`."""

    def __init__(
        self,
        *,
        token: str = "4242:TEST-TOKEN",
        bot_username: str = "strikewire_test_bot",
        per_second: float = 30,
        paid_per_second: float = 1000,
        private_per_second: float = 1,
        group_per_minute: float = 20,
        latency: float = 0.0,
        jitter: float = 0.0,
        error_rate: float = 0.0,
        seed: int = 0,
        port: int = 0,
    ) -> None:
        self.token, self.bot_username, self.latency, self.port = token, bot_username, latency, port
        # Every answer takes `latency` plus up to `jitter` seconds; a send or
        # edit answers 502 (not delivered) with probability `error_rate`.
        self.jitter, self.error_rate = jitter, error_rate
        self._random = random.Random(seed)
        self.errors_injected = 0
        self.bot_id = int(token.split(":")[0])
        self.per_second, self.paid_per_second = per_second, paid_per_second
        self.private_per_second, self.group_per_minute = private_per_second, group_per_minute
        # Knobs a test sets: chat ids that answer with the matching error.
        self.blocked: set[int] = set()
        self.deactivated: set[int] = set()
        self.not_found: set[int] = set()
        self.kicked: set[int] = set()
        self.too_long: set[int] = set()
        self.bad_html: set[int] = set()
        self.migrated: dict[int, int] = {}
        # (chat, message id) pairs Telegram refuses to delete (sent > 48 h ago).
        self.undeletable: set[tuple[int, int]] = set()
        # The next this-many send/edit requests answer 502 Bad Gateway.
        self.fail_next = 0
        # Requests for these chats get no answer, as over a network gone silent
        # (until the server stops).
        self.silent: set[int] = set()
        # What happened.
        self.sent: list[SentMessage] = []  # what the chats show now
        self.shown: dict[int, int] = {}  # chat id -> how many of `sent` it shows
        self.edits: list[SentMessage] = []  # every accepted edit, as it was made
        self.deleted: list[tuple[int, int]] = []  # (chat, message id), in order
        self.calls: list[tuple[str, JSON]] = []
        self.too_many_requests = 0
        self.commands: dict[str, list[JSON]] = {}  # scope (JSON text) -> commands
        self.webhook: JSON | None = None
        self.webhook_failures = 0
        self.injected_at: dict[int, float] = {}
        self.chats: dict[int, FakeChat] = {}
        self.files = FakeFiles()
        self.media = FakeMedia()  # photos and documents sent by the bot: uploads, file ids
        self._global = Window(per_second, 1.0)
        self._per_chat: dict[int, Window] = {}
        self._message_ids: dict[int, int] = {}
        self._updates: list[JSON] = []
        self._next_update_id = 1
        self._new_update = asyncio.Event()
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None

    # ----- lifecycle -------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.router.add_post("/_fake/inject", self._control_inject)
        app.router.add_get("/_fake/stats", self._control_stats)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._client = ClientSession()

    async def stop(self) -> None:
        self._stopping = True
        self._new_update.set()
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ----- chats and incoming messages --------------------------------------

    def private_chat(self, user_id: int, name: str = "Supporter") -> FakeChat:
        return self.chats.setdefault(user_id, FakeChat(user_id, "private", name))

    def group(
        self,
        chat_id: int,
        *,
        creator: int,
        admins: set[int] | None = None,
        supergroup: bool = False,
        title: str | None = None,
    ) -> FakeChat:
        kind = "supergroup" if supergroup else "group"
        chat = FakeChat(chat_id, kind, title, creator=creator, admins=set(admins or ()))
        self.chats[chat_id] = chat
        return chat

    def channel(self, chat_id: int, *, username: str | None = None) -> FakeChat:
        chat = FakeChat(chat_id, "channel", username=username)
        self.chats[chat_id] = chat
        return chat

    def inject_message(
        self,
        chat: FakeChat,
        text: str,
        from_user: FakeUser | None = None,
        *,
        sender_chat: FakeChat | None = None,
        entities: list[JSON] | None = None,
    ) -> int:
        """Queue an incoming message (a channel post for channels); return its update id.

        `entities` are its formatting (`{"type": "bold", "offset": …, "length": …}`,
        offsets in UTF-16 code units); a leading command gets its bot_command
        entity as Telegram adds it."""
        message: JSON = {"text": text}
        found = self._entities(text, entities)
        if found:
            message["entities"] = found
        return self._inject(chat, message, from_user, sender_chat)

    def inject_document(
        self,
        chat: FakeChat,
        file: FakeFile,
        from_user: FakeUser | None = None,
        *,
        caption: str | None = None,
        caption_entities: list[JSON] | None = None,
    ) -> int:
        """Queue a message carrying `file` (from `files.add`) as a document."""
        message: JSON = {"document": file.document_json()}
        if caption is not None:
            message["caption"] = caption
            found = self._entities(caption, caption_entities)
            if found:
                message["caption_entities"] = found
        return self._inject(chat, message, from_user, None)

    @staticmethod
    def _entities(text: str, given: list[JSON] | None) -> list[JSON]:
        found = list(given or ())
        if text.startswith("/"):
            command = text.split()[0]
            length = len(command.encode("utf-16-le")) // 2
            found.insert(0, {"type": "bot_command", "offset": 0, "length": length})
        return found

    def _inject(
        self,
        chat: FakeChat,
        content: JSON,
        from_user: FakeUser | None,
        sender_chat: FakeChat | None,
    ) -> int:
        self.chats.setdefault(chat.id, chat)
        message: JSON = {
            "message_id": self._next_message_id(chat.id),
            "date": int(time.time()),
            "chat": chat.json(),
            **content,
        }
        if from_user is not None:
            message["from"] = from_user.json()
        elif chat.type == "private":
            message["from"] = FakeUser(chat.id, chat.title or "Supporter").json()
        if sender_chat is not None:
            message["sender_chat"] = sender_chat.json()
        kind = "channel_post" if chat.type == "channel" else "message"
        self.injected_at[chat.id] = time.monotonic()
        return self._add_update({kind: message})

    def inject_removed(self, chat: FakeChat, status: str = "kicked") -> int:
        """The bot was removed from `chat` (a `my_chat_member` update)."""
        me = {"id": self.bot_id, "is_bot": True, "first_name": "Strikewire"}
        actor = FakeUser(chat.creator or chat.id).json()
        change = {
            "chat": chat.json(),
            "from": actor,
            "date": int(time.time()),
            "old_chat_member": {"status": "member", "user": me},
            "new_chat_member": {"status": status, "user": me, "until_date": 0},
        }
        return self._add_update({"my_chat_member": change})

    def _add_update(self, body: JSON) -> int:
        update = {"update_id": self._next_update_id, **body}
        self._next_update_id += 1
        if self.webhook is not None:
            self._spawn(self._post_webhook(update))
        else:
            self._updates.append(update)
            self._new_update.set()
        return int(update["update_id"])

    async def _post_webhook(self, update: JSON) -> None:
        assert self.webhook is not None
        assert self._client is not None
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(self.webhook["secret_token"])
        try:
            async with self._client.post(
                str(self.webhook["url"]), json=update, headers=headers
            ) as response:
                if response.status != 200:
                    self.webhook_failures += 1
        except OSError:
            self.webhook_failures += 1

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----- what the tests read ----------------------------------------------

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.sent if m.chat_id == chat_id]

    def reply_latency(self, chat_id: int) -> float | None:
        """Seconds from the last message injected in `chat_id` to the next one accepted there."""
        start = self.injected_at.get(chat_id)
        later = [
            m.at for m in self.sent if m.chat_id == chat_id and start is not None and m.at >= start
        ]
        return None if start is None or not later else min(later) - start

    def calls_to(self, method: str) -> list[JSON]:
        return [params for name, params in self.calls if name == method]

    # ----- HTTP ---------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            params = await self._params(request)
            self.calls.append((method, params))
            if self.silent and "chat_id" in params and chat_id_of(params["chat_id"]) in self.silent:
                await asyncio.sleep(60)  # the runner's cleanup cuts it short at stop
            handler = self._methods().get(method)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            result = await handler(params)
            body: JSON = {"ok": True, "result": result}
            status = 200
        except ApiError as exc:
            body = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
            status = exc.code
        delay = self.latency + (self._random.uniform(0, self.jitter) if self.jitter else 0.0)
        if delay:
            await asyncio.sleep(delay)
        return web.Response(
            status=status, body=json.dumps(body).encode(), content_type="application/json"
        )

    async def _params(self, request: web.Request) -> JSON:
        params: JSON = dict(request.query)
        if request.content_type == "application/json":
            raw = await request.read()
            if raw:
                params.update(json.loads(raw))
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = (value.filename, value.file.read())
                else:
                    params[key] = parsed_field(value)
        return params

    def _methods(self) -> dict[str, Callable[[JSON], Awaitable[Any]]]:
        return {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendMediaGroup": self._send_media_group,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageMedia": self._edit_message_media,
            "deleteMessage": self._delete_message,
            "setMyCommands": self._set_my_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "getFile": self._get_file,
        }

    def _bot_json(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Strikewire",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _get_me(self, params: JSON) -> JSON:
        return self._bot_json()

    async def _get_updates(self, params: JSON) -> list[JSON]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        while not self._updates and not self._stopping:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), remaining)
        limit = int(params.get("limit") or 100)
        return self._updates[:limit]

    async def _set_webhook(self, params: JSON) -> bool:
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token")}
        pending, self._updates = self._updates, []
        for update in pending:
            self._spawn(self._post_webhook(update))
        return True

    async def _delete_webhook(self, params: JSON) -> bool:
        self.webhook = None
        if flag(params.get("drop_pending_updates")):
            self._updates.clear()
        return True

    async def _set_my_commands(self, params: JSON) -> bool:
        scope = json.dumps(parsed_field(params.get("scope") or {"type": "default"}), sort_keys=True)
        language = params.get("language_code")
        key = f"{scope}:{language}" if language else scope  # one menu per scope and language
        self.commands[key] = list(parsed_field(params["commands"]))
        return True

    def _chat(self, value: Any) -> FakeChat:
        ref = chat_id_of(value)
        if isinstance(ref, str):
            for known in self.chats.values():
                if known.username and f"@{known.username}".lower() == ref.lower():
                    return known
            raise ApiError(400, "Bad Request: chat not found")
        if ref in self.not_found:
            raise ApiError(400, "Bad Request: chat not found")
        chat = self.chats.get(ref)
        if chat is None:  # a chat the bot has met before: the kind follows from the id
            chat = FakeChat(ref, "private" if ref > 0 else "supergroup")
        return chat

    def _check_chat(self, chat: FakeChat) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ApiError(502, "Bad Gateway")
        if self.error_rate and self._random.random() < self.error_rate:
            self.errors_injected += 1
            raise ApiError(502, "Bad Gateway")
        if chat.id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat.id in self.deactivated:
            raise ApiError(403, "Forbidden: user is deactivated")
        if chat.id in self.kicked:
            where = "channel chat" if chat.type == "channel" else "group chat"
            what = "is not a member of the" if chat.type == "channel" else "was kicked from the"
            raise ApiError(403, f"Forbidden: bot {what} {where}")
        if chat.id in self.migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self.migrated[chat.id]},
            )

    def _check_flood(self, chat: FakeChat, paid: bool, count: int = 1) -> None:
        """Room for `count` messages (an album's items each count) in the
        overall window, and for one more in the chat's."""
        now = time.monotonic()
        overall = self.paid_per_second if paid else self.per_second
        wait = self._global.wait_needed(now, max(1.0, overall - count + 1))
        window = self._per_chat.get(chat.id)
        if window is None:
            window = (
                Window(self.private_per_second, 1.0)
                if chat.type == "private"
                else Window(self.group_per_minute, 60.0)
            )
            self._per_chat[chat.id] = window
        wait = max(wait, window.wait_needed(now))
        if wait > 0:
            self.too_many_requests += 1
            seconds = max(1, math.ceil(wait))
            raise ApiError(
                429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}
            )
        for _ in range(count):
            self._global.add(now)
            window.add(now)

    def _check_caption(self, chat: FakeChat, params: JSON) -> str:
        caption = str(params.get("caption") or "")
        try:
            return self._check_text(chat, caption, params.get("parse_mode"), CAPTION_LIMIT)
        except ApiError as exc:
            if "too long" in exc.description:
                raise ApiError(400, "Bad Request: message caption is too long") from None
            raise

    def _check_text(self, chat: FakeChat, text: str, parse_mode: str | None, limit: int) -> str:
        if chat.id in self.bad_html:
            raise ApiError(
                400,
                'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 0',
            )
        plain = text
        if parse_mode == "HTML":
            problem, plain = check_html(text)
            if problem:
                raise ApiError(400, f"Bad Request: can't parse entities: {problem}")
        size = len(plain.encode("utf-16-le")) // 2
        if chat.id in self.too_long or size > limit:
            raise ApiError(400, "Bad Request: message is too long")
        return plain

    def _next_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _accept(
        self,
        method: str,
        chat: FakeChat,
        params: JSON,
        text: str,
        document: tuple[str, bytes] | None = None,
        upload: Upload | None = None,
        group: str | None = None,
    ) -> int:
        reply_to = self._reply_to(chat, params)
        if upload is not None and upload.kind == "document":
            document = (upload.filename, upload.content)
        message_id = self._next_message_id(chat.id)
        self.shown[chat.id] = self.shown.get(chat.id, 0) + 1
        self.sent.append(
            SentMessage(
                method,
                chat.id,
                message_id,
                text,
                params.get("parse_mode"),
                flag(params.get("protect_content")),
                flag(params.get("allow_paid_broadcast")),
                time.monotonic(),
                document,
                reply_to,
                None if upload is None else upload.file_id,
                None if upload is None else upload.kind,
                group,
            )
        )
        return message_id

    def _reply_to(self, chat: FakeChat, params: JSON) -> int | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, str):
            reply = json.loads(reply)
        if not isinstance(reply, dict):
            return None
        target = int(reply["message_id"])
        if self._find(chat.id, target) is None and not reply.get("allow_sending_without_reply"):
            raise ApiError(400, "Bad Request: message to be replied not found")
        return target

    def _find(self, chat_id: int, message_id: int) -> int | None:
        """Where a message the chat shows stands in `sent`."""
        for index, message in enumerate(self.sent):
            if message.chat_id == chat_id and message.message_id == message_id:
                return index
        return None

    def _message_json(self, chat: FakeChat, message_id: int, plain: str) -> JSON:
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat.json(),
            "from": {
                "id": self.bot_id,
                "is_bot": True,
                "first_name": "Strikewire",
                "username": self.bot_username,
            },
            "text": plain,
        }

    async def _send_message(self, params: JSON) -> JSON:
        chat = self._chat(params.get("chat_id"))
        self._check_chat(chat)
        self._check_flood(chat, flag(params.get("allow_paid_broadcast")))
        text = str(params.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        plain = self._check_text(chat, text, params.get("parse_mode"), 4096)
        return self._message_json(chat, self._accept("sendMessage", chat, params, text), plain)

    def _media_json(
        self, chat: FakeChat, message_id: int, plain: str, upload: Upload, group: str | None = None
    ) -> JSON:
        out = self._message_json(chat, message_id, plain)
        del out["text"]
        if plain:
            out["caption"] = plain
        out[upload.kind] = upload.json()
        if group is not None:
            out["media_group_id"] = group
        return out

    async def _send_file(self, method: str, kind: str, params: JSON) -> JSON:
        chat = self._chat(params.get("chat_id"))
        self._check_chat(chat)
        plain = self._check_caption(chat, params)
        upload = self.media.resolve(kind, params.get(kind), params)
        self._check_flood(chat, flag(params.get("allow_paid_broadcast")))
        caption = str(params.get("caption") or "")
        message_id = self._accept(method, chat, params, caption, upload=upload)
        return self._media_json(chat, message_id, plain, upload)

    async def _send_document(self, params: JSON) -> JSON:
        return await self._send_file("sendDocument", "document", params)

    async def _send_photo(self, params: JSON) -> JSON:
        return await self._send_file("sendPhoto", "photo", params)

    async def _send_media_group(self, params: JSON) -> list[JSON]:
        """An album: each item its own message (and id), each counted as a message."""
        chat = self._chat(params.get("chat_id"))
        self._check_chat(chat)
        items = self.media.album(params)
        captions = [self._check_caption(chat, item) for _, item in items]
        self._check_flood(chat, flag(params.get("allow_paid_broadcast")), count=len(items))
        group = f"g{len(self.sent)}{chat.id}"
        out = []
        for (upload, item), plain in zip(items, captions, strict=True):
            caption = str(item.get("caption") or "")
            fields = {**params, "parse_mode": item.get("parse_mode")}
            message_id = self._accept(
                "sendMediaGroup", chat, fields, caption, upload=upload, group=group
            )
            out.append(self._media_json(chat, message_id, plain, upload, group))
        return out

    def _editable(self, chat: FakeChat, params: JSON) -> tuple[int, SentMessage]:
        index = self._find(chat.id, int(params["message_id"]))
        if index is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return index, self.sent[index]

    def _not_modified(self) -> ApiError:
        return ApiError(
            400,
            "Bad Request: message is not modified: specified new message content and "
            "reply markup are exactly the same as a current content and reply markup "
            "of the message",
        )

    def _edited(self, chat: FakeChat, index: int, **changes: Any) -> None:
        # Edits count against the same flood limits as sends.
        self._check_flood(chat, paid=False)
        edited = dataclasses.replace(self.sent[index], at=time.monotonic(), **changes)
        self.sent[index] = edited
        self.edits.append(edited)

    async def _edit_message_caption(self, params: JSON) -> JSON:
        chat = self._chat(params.get("chat_id"))
        self._check_chat(chat)
        plain = self._check_caption(chat, params)
        index, old = self._editable(chat, params)
        if old.file_id is None:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption = str(params.get("caption") or "")
        if old.text == caption and (old.parse_mode == params.get("parse_mode") or not caption):
            raise self._not_modified()
        self._edited(chat, index, text=caption, parse_mode=params.get("parse_mode"))
        return self._media_json(chat, old.message_id, plain, self.media.by_id[old.file_id])

    async def _edit_message_media(self, params: JSON) -> JSON:
        chat = self._chat(params.get("chat_id"))
        self._check_chat(chat)
        item = parsed_field(params.get("media"))
        if not isinstance(item, dict):
            raise ApiError(400, "Bad Request: media not specified")
        index, old = self._editable(chat, params)
        if old.file_id is None:
            raise ApiError(400, "Bad Request: there is no media in the message to edit")
        kind = str(item.get("type"))
        if old.media_group is not None and kind != old.media_kind:
            raise ApiError(400, "Bad Request: can't replace media of this type in an album")
        plain = self._check_caption(chat, item)
        upload = self.media.resolve(kind, item.get("media"), params)
        caption = str(item.get("caption") or "")
        if upload.file_id == old.file_id and caption == old.text:
            raise self._not_modified()
        document = (upload.filename, upload.content) if kind == "document" else None
        self._edited(
            chat,
            index,
            text=caption,
            parse_mode=item.get("parse_mode"),
            file_id=upload.file_id,
            media_kind=kind,
            document=document,
        )
        return self._media_json(chat, old.message_id, plain, upload, old.media_group)

    async def _edit_message_text(self, params: JSON) -> JSON:
        chat = self._chat(params.get("chat_id"))
        self._check_chat(chat)
        message_id = int(params["message_id"])
        text = str(params.get("text") or "")
        plain = self._check_text(chat, text, params.get("parse_mode"), 4096)
        index = self._find(chat.id, message_id)
        if index is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        old = self.sent[index]
        if old.file_id is not None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        if old.text == text and old.parse_mode == params.get("parse_mode"):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        # Edits count against the same flood limits as sends.
        self._check_flood(chat, paid=False)
        edited = dataclasses.replace(
            old, text=text, parse_mode=params.get("parse_mode"), at=time.monotonic()
        )
        self.sent[index] = edited
        self.edits.append(edited)
        return self._message_json(chat, message_id, plain)

    async def _delete_message(self, params: JSON) -> bool:
        chat = self._chat(params.get("chat_id"))
        message_id = int(params["message_id"])
        index = self._find(chat.id, message_id)
        if index is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        if (chat.id, message_id) in self.undeletable:
            raise ApiError(400, "Bad Request: message can't be deleted for everyone")
        self._check_flood(chat, paid=False)
        del self.sent[index]
        self.shown[chat.id] -= 1
        if not self.shown[chat.id]:
            del self.shown[chat.id]
        self.deleted.append((chat.id, message_id))
        return True

    def _member_json(self, chat: FakeChat, user_id: int) -> JSON:
        user = FakeUser(user_id).json()
        if user_id == chat.creator:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in chat.admins:
            rights = (
                "can_be_edited",
                "is_anonymous",
                "can_manage_chat",
                "can_delete_messages",
                "can_manage_video_chats",
                "can_restrict_members",
                "can_promote_members",
                "can_change_info",
                "can_invite_users",
                "can_post_stories",
                "can_edit_stories",
                "can_delete_stories",
            )
            return {
                "status": "administrator",
                "user": user,
                **{name: name not in ("can_be_edited", "is_anonymous") for name in rights},
            }
        return {"status": "member", "user": user}

    async def _download(self, request: web.Request) -> web.Response:
        return await self.files.download(request, self.token)

    async def _get_file(self, params: JSON) -> JSON:
        return self.files.get_file(params)

    async def _get_chat_member(self, params: JSON) -> JSON:
        chat = self._chat(params.get("chat_id"))
        return self._member_json(chat, int(params["user_id"]))

    async def _get_chat_administrators(self, params: JSON) -> list[JSON]:
        chat = self._chat(params.get("chat_id"))
        if chat.type == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        ids = sorted(({chat.creator} if chat.creator else set()) | chat.admins)
        return [self._member_json(chat, user_id) for user_id in ids]

    # ----- control API for a server in another process -------------------------

    async def _control_inject(self, request: web.Request) -> web.Response:
        data = await request.json()
        chat = self.private_chat(int(data["chat_id"]))
        update_id = self.inject_message(chat, str(data["text"]))
        return web.json_response({"update_id": update_id})

    async def _control_stats(self, request: web.Request) -> web.Response:
        # `?upto=N` answers only how many of the chats 1..N show a message: a
        # bench polls it during a broadcast, and each chat's count (20,000 of
        # them) and the reply latencies (a pass over every message) held this
        # server, and the poller, for milliseconds.
        stats: JSON = {
            "accepted": len(self.sent),
            "too_many_requests": self.too_many_requests,
            "errors_injected": self.errors_injected,
            "uploads": len(self.media.uploads),
        }
        upto = request.query.get("upto")
        if upto is not None:
            last = int(upto)
            stats["reached"] = sum(1 for chat_id in self.shown if 1 <= chat_id <= last)
        else:
            stats["counts"] = self.shown
            stats["reply_latency"] = {
                str(chat_id): self.reply_latency(chat_id) for chat_id in self.injected_at
            }
        return web.json_response(stats)


async def _serve(args: argparse.Namespace) -> None:
    server = FakeTelegram(
        per_second=args.per_second,
        paid_per_second=args.paid_per_second,
        latency=args.latency,
        jitter=args.jitter,
        error_rate=args.error_rate,
        seed=args.seed,
        port=args.port,
    )
    await server.start()
    print(f"READY {server.base_url} {server.token}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake Telegram Bot API server.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--per-second", type=float, default=30)
    parser.add_argument("--paid-per-second", type=float, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--jitter", type=float, default=0.0, help="up to this much more latency")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of sends that 502")
    parser.add_argument("--seed", type=int, default=0)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
