"""The Telegram adapter: python-telegram-bot, driven by hand on the bot's event loop.

It owns PTB's `Application` lifecycle (initialize, start, long polling or a
webhook, stop, shutdown), turns incoming updates into `Incoming` commands for
the core (telegram_incoming.py) and answers them at REPLY priority. Sending
is telegram_send.py: every request waits for our own `SendLimiter`
(telegram_limiter.py) and every failure is classified for the delivery worker
(telegram_errors.py); PTB talks HTTP through telegram_request.py.

A document an admin sends in a private chat is downloaded (through the same
request class) when Telegram says it is at most MAX_DOCUMENT_BYTES; anyone
else's, and larger ones, reach the core with its size only.

The command menus are handed in (`menu`, built by the App from the command
table in bot/chat/commands.py): an adapter knows a platform, not the commands.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import secrets
from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder, TypeHandler
from telegram.request import BaseRequest

from bot.adapters.base import (
    MAX_DOCUMENT_BYTES,
    AdapterStartError,
    ChatGone,
    ChatGoneHandler,
    ChatKind,
    CommandHandler,
    Document,
    Incoming,
    Outgoing,
    Priority,
    SendError,
)
from bot.adapters.telegram_incoming import FileRef, Received, received, removed_from
from bot.adapters.telegram_limiter import SendLimiter
from bot.adapters.telegram_media import FileIds
from bot.adapters.telegram_menu import Menu, set_menus
from bot.adapters.telegram_request import AiohttpRequest
from bot.adapters.telegram_send import TelegramSender, chat_ref
from bot.config import TelegramConfig
from bot.platforms import Platform
from bot.quiet_http import QuietRunner
from bot.store import KeyValue

log = logging.getLogger(__name__)

# Opt in to PTB's coming behaviour (time periods as timedelta): without it PTB
# 22 emits a deprecation warning from inside every 429 it parses. Our code
# reads RetryAfter either way (telegram_errors.retry_after_seconds).
os.environ.setdefault("PTB_TIMEDELTA", "true")

ALLOWED_UPDATES = ["message", "channel_post", "my_chat_member"]
ADMIN_STATUSES = ("creator", "administrator")

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def file_url(base_url: str) -> str | None:
    """Where the Bot API serves files, from where it answers methods:
    `https://api.telegram.org/bot` -> `https://api.telegram.org/file/bot`."""
    head, bot, tail = base_url.rpartition("/bot")
    return f"{head}/file{bot}{tail}" if bot else None


class TelegramAdapter:
    platform = Platform.TELEGRAM
    # Outstanding sends: plenty for 30/s. Paid broadcasts get four times as
    # many: each send holds its slot for the Bot API's latency plus the
    # delivery worker's turn-around (recording outcomes, claiming rows: about
    # 25 ms a round at 800/s on SQLite), and 64 capped the whole pipeline near
    # 650/s; 256 rather than 128 halves the claims (a claim takes a quarter
    # of the slots), each a database round trip.
    max_in_flight = 64
    paid_max_in_flight = 256

    def __init__(
        self,
        config: TelegramConfig,
        *,
        request: BaseRequest | None = None,
        default_language: str = "en",
        poll_timeout: float = 10.0,
        member_cache_seconds: float = 60.0,
        menu: Menu | None = None,
        state: KeyValue | None = None,
    ) -> None:
        self.config = config
        # None: the bot sets no menus (a tool or test that answers no commands).
        self._menu = menu
        self._request = request
        self._default_language = default_language
        self._poll_timeout = poll_timeout
        self._member_cache_seconds = member_cache_seconds
        self._admins = set(config.admins)
        limits = config.limits
        self.limiter = SendLimiter(
            per_second=limits.paid_per_second
            if config.allow_paid_broadcast
            else limits.overall_per_second,
            private_interval=1 / limits.per_private_chat_per_second,
            group_interval=60 / limits.per_group_per_minute,
        )
        # Each photo or document is uploaded once; its file_id is kept in
        # `state` (None: for this process only).
        self.files = FileIds(state, config.token.partition(":")[0])
        self.sender = TelegramSender(
            self._bot, self.limiter, paid=config.allow_paid_broadcast, files=self.files
        )
        if config.allow_paid_broadcast:
            self.max_in_flight = self.paid_max_in_flight
        self._app: AnyApplication | None = None
        self._webhook: web.AppRunner | None = None
        # The header Telegram must send with every webhook POST (set at start).
        self._webhook_secret = ""
        self._on_command: CommandHandler | None = None
        self._on_chat_gone: ChatGoneHandler | None = None
        self._chat_locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._members: dict[tuple[str, int], tuple[float, bool]] = {}
        self.username = ""
        self._polling_failed: tuple[float, str] | None = None  # (loop time, error) for health()

    # ----- lifecycle -----------------------------------------------------------

    def _build(self) -> AnyApplication:
        builder = (
            ApplicationBuilder()
            .token(self.config.token)
            .base_url(self.config.base_url)
            .request(self._request or AiohttpRequest(connection_pool_size=2 * self.max_in_flight))
            .get_updates_request(
                AiohttpRequest(connection_pool_size=1, read_timeout=self._poll_timeout + 5)
            )
            .concurrent_updates(True)
            .job_queue(None)
        )
        files = file_url(self.config.base_url)
        if files is not None:
            builder = builder.base_file_url(files)
        if self.config.webhook is not None:
            builder = builder.updater(None)
        app: AnyApplication = builder.build()
        app.add_handler(TypeHandler(Update, self._handle_update))
        return app

    async def start(self, on_command: CommandHandler, on_chat_gone: ChatGoneHandler) -> None:
        self._on_command, self._on_chat_gone = on_command, on_chat_gone
        app = self._build()
        base_url = self.config.base_url
        try:
            await app.initialize()
        except InvalidToken:
            await app.bot.shutdown()
            raise AdapterStartError(
                f"telegram: the token was refused by {base_url} (check TELEGRAM_TOKEN)"
            ) from None
        except NetworkError as exc:
            await app.bot.shutdown()
            raise AdapterStartError(
                f"telegram: cannot reach {base_url} ({exc.message}); check telegram.base_url"
            ) from None
        self._app = app
        self.username = app.bot.username
        await self._set_commands()
        await app.start()
        if self.config.webhook is not None:
            await self._start_webhook(app)
            mode = "webhook"
        else:
            assert app.updater is not None
            await app.updater.start_polling(
                timeout=timedelta(seconds=self._poll_timeout),
                allowed_updates=ALLOWED_UPDATES,
                error_callback=self._polling_error,
            )
            mode = "polling"
        log.info("telegram started bot=@%s mode=%s", self.username, mode)

    async def stop_receiving(self) -> None:
        """End polling (or the webhook) and the answers under way; sends still work."""
        app = self._app
        if app is None:
            return
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if self._webhook is not None:
            await self._webhook.cleanup()
            self._webhook = None
        if app.running:
            await app.stop()  # lets answers being sent finish

    async def stop(self) -> None:
        await self.stop_receiving()
        app, self._app = self._app, None
        if app is None:
            return
        await self.limiter.close()
        await app.shutdown()
        log.info("telegram stopped")

    def health(self) -> str | None:
        if self._app is None or not self._app.running:
            return "telegram: not connected"
        if self._polling_failed is not None:
            # PTB retries with a back-off of up to 30 s; an error seen within
            # a poll and a back-off means polling is still failing.
            when, error = self._polling_failed
            if asyncio.get_running_loop().time() - when < self._poll_timeout + 45:
                return f"telegram: polling failing ({error})"
        return None

    def subscribe_link(self) -> str | None:
        return f"https://t.me/{self.username}?start=" if self.username else None

    def _polling_error(self, exc: TelegramError) -> None:
        self._polling_failed = (asyncio.get_running_loop().time(), type(exc).__name__)
        log.warning("telegram polling failed error=%s; retrying", type(exc).__name__)

    async def _set_commands(self) -> None:
        if self._menu is not None:
            await set_menus(self._bot(), self._menu, self._default_language, self._admins)

    async def _start_webhook(self, app: AnyApplication) -> None:
        hook = self.config.webhook
        assert hook is not None
        # Without a secret anyone who learns the URL could post an update as
        # an admin; none configured, a fresh one is made for this run and
        # given to Telegram with setWebhook (a restart simply makes another).
        self._webhook_secret = hook.secret_token or secrets.token_urlsafe(32)
        web_app = web.Application()
        web_app.router.add_post("/" + hook.path.strip("/"), partial(self._webhook_post, app))
        runner = QuietRunner(web_app)
        await runner.setup()
        await web.TCPSite(runner, hook.listen, hook.port).start()
        self._webhook = runner
        await app.bot.set_webhook(
            url=hook.url, secret_token=self._webhook_secret, allowed_updates=ALLOWED_UPDATES
        )

    async def _webhook_post(self, app: AnyApplication, request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        secret = self._webhook_secret
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            # Not from Telegram: the body is never read. No address is logged:
            # behind a proxy it would be the proxy's, and it is someone's.
            log.warning(
                "telegram webhook refused reason=%s", "wrong_secret" if given else "no_secret"
            )
            return web.Response(status=401)
        try:
            update = Update.de_json(await request.json(), app.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400)
        await app.update_queue.put(update)
        return web.Response()

    def _bot(self) -> Any:
        assert self._app is not None, "TelegramAdapter.start() first"
        return self._app.bot

    # ----- receiving ---------------------------------------------------------------

    async def _handle_update(self, update: Update, context: Any) -> None:
        """Answer one update; never lets an exception reach PTB."""
        try:
            gone = removed_from(update)
            if gone is not None:
                if self._on_chat_gone is not None:
                    await self._on_chat_gone(self.platform, gone)
                return
            got = received(update, self.username)
            if got is not None:
                await self._answer(got)
        except Exception:
            log.exception("telegram update failed")

    async def _answer(self, got: Received) -> None:
        # One command at a time per chat, so answers come in the order asked.
        lock, users = self._chat_locks.get(got.chat_id, (asyncio.Lock(), 0))
        self._chat_locks[got.chat_id] = (lock, users + 1)
        try:
            async with lock:
                document = None if got.file is None else await self._document(got, got.file)
                incoming = Incoming(
                    platform=self.platform,
                    chat_id=got.chat_id,
                    chat_kind=got.chat_kind,
                    text=got.text,
                    may_manage=await self._may_manage(got),
                    is_bot_admin=got.user_id in self._admins,
                    language=got.language,
                    markdown=got.markdown,
                    document=document,
                    sender=None if got.user_id is None else str(got.user_id),
                )
                assert self._on_command is not None
                for answer in await self._on_command(incoming):
                    await self._reply(got.chat_id, answer)
        finally:
            lock, users = self._chat_locks[got.chat_id]
            if users == 1:
                del self._chat_locks[got.chat_id]
            else:
                self._chat_locks[got.chat_id] = (lock, users - 1)

    async def _document(self, got: Received, file: FileRef) -> Document:
        """The document, downloaded only for an admin in a private chat and only when small enough;
        without content if the download failed (logged): the admin is told to send it again."""
        size = file.size
        wanted = got.chat_kind is ChatKind.PRIVATE and got.user_id in self._admins
        if not wanted or (size is not None and size > MAX_DOCUMENT_BYTES):
            return Document(file.filename, size or 0, None)
        try:
            found = await self._bot().get_file(file.file_id)
            if found.file_size is not None and found.file_size > MAX_DOCUMENT_BYTES:
                return Document(file.filename, found.file_size, None)
            content = bytes(await found.download_as_bytearray())
        except TelegramError as exc:
            log.warning("telegram document download failed error=%s", type(exc).__name__)
            return Document(file.filename, size or 0, None)
        if len(content) > MAX_DOCUMENT_BYTES:  # Telegram did not say its size
            return Document(file.filename, len(content), None)
        return Document(file.filename, len(content), content)

    async def _reply(self, chat_id: str, answer: Outgoing) -> None:
        try:
            await self.sender.send(chat_id, answer, Priority.REPLY)
        except ChatGone:
            if self._on_chat_gone is not None:
                await self._on_chat_gone(self.platform, chat_id)
        except SendError as exc:
            log.warning("telegram answer not sent kind=%s", exc.kind)

    async def _may_manage(self, got: Received) -> bool:
        if got.chat_kind is not ChatKind.GROUP or got.anonymous_admin:
            return True  # a private chat's own user; only admins post in channels
        if got.user_id is None:
            return False
        if got.user_id in self._admins:
            return True
        loop = asyncio.get_running_loop()
        key = (got.chat_id, got.user_id)
        cached = self._members.get(key)
        if cached is not None and cached[0] > loop.time():
            return cached[1]
        try:
            member = await self._bot().get_chat_member(chat_ref(got.chat_id), got.user_id)
        except TelegramError as exc:
            log.warning("telegram admin check failed error=%s", type(exc).__name__)
            return False
        allowed = member.status in ADMIN_STATUSES
        if len(self._members) > 10_000:
            self._members.clear()
        self._members[key] = (loop.time() + self._member_cache_seconds, allowed)
        return allowed

    @property
    def retry_after_count(self) -> int:
        """How many 429 answers the sends met."""
        return self.sender.retry_after_count

    async def send(self, chat_id: str, message: Outgoing) -> list[str]:
        return await self.sender.send(chat_id, message, Priority.BROADCAST)

    async def edit(self, chat_id: str, message_ids: Sequence[str], message: Outgoing) -> list[str]:
        return await self.sender.edit(chat_id, message_ids, message)

    async def take_back(
        self, chat_id: str, message_ids: Sequence[str], reason: str, fallback: Outgoing
    ) -> None:
        await self.sender.take_back(chat_id, message_ids, fallback)
