"""Sending into Matrix rooms: `m.notice` parts, encryption, attachments, and
the homeserver's rate limit.

When the homeserver answers `M_LIMIT_EXCEEDED`, every send pauses until its
`retry_after_ms` has passed: broadcasts raise `RetryAfter` at once so the
delivery worker reschedules them, replies to commands wait and try again a
bounded number of times, and go before any broadcast waiting with them. A
message of several parts that fails half-way resumes after the parts already
sent, so a retry never shows the reader a part twice.

An update's files go first, one `m.image` / `m.file` event each
(bot/adapters/matrix_media.py uploads them once), then the text parts.

Corrections edit each part with an `m.replace` event (the new text in
`m.new_content`, a "* " fallback for old clients; encrypted like any message
in an encrypted room), send the parts that are new and redact the surplus;
a file's event is replaced the same way, its new `url` / `file` in
`m.new_content`; withdrawals redact every event with the reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import aiohttp
from nio import AsyncClient, ErrorResponse, RoomRedactResponse, RoomSendResponse, UploadResponse
from nio.exceptions import LocalProtocolError, OlmUnverifiedDeviceError, SendRetryError

from bot.adapters.base import (
    Attachment,
    ChatGone,
    Outgoing,
    Priority,
    RetryAfter,
    Transient,
)
from bot.adapters.matrix_rules import classify_error
from bot.media.lines import fallback_markdown
from bot.media.types import Media
from bot.render import to_matrix

log = logging.getLogger(__name__)
NETWORK_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)
# A reply is worth a short wait; after this many rate-limit answers it is dropped.
REPLY_ATTEMPTS = 4
MAX_REPLY_WAIT_S = 60.0
_RESUME_ENTRIES = 1000
_RENDERED_ENTRIES = 16


def notice_content(body: str, formatted_body: str) -> dict[str, Any]:
    return {
        "msgtype": "m.notice",
        "body": body,
        "format": "org.matrix.custom.html",
        "formatted_body": formatted_body,
    }


class MediaEvents(Protocol):
    """How files become events: bot/adapters/matrix_media.py `MatrixFiles`."""

    async def read_limit(self) -> None: ...

    async def contents(
        self,
        media: Sequence[Media],
        markdown: str,
        *,
        encrypted: bool,
        failure: Callable[[Any], Exception],
    ) -> tuple[list[dict[str, Any]], str]: ...


class MatrixSender:
    """Sends `Outgoing` messages for one logged-in, synced client."""

    def __init__(
        self,
        client: AsyncClient,
        clock: Callable[[], float] = time.monotonic,
        media: MediaEvents | None = None,
    ) -> None:
        self._client = client
        self.media = media  # without it, files are only named in the text
        self._clock = clock
        # Key setup (member lists, device queries, sharing room keys) touches
        # nio's Olm state: one at a time, while the sends themselves overlap.
        self.key_lock = asyncio.Lock()
        self._paused_until = 0.0
        self._replies_waiting = 0
        self._no_replies = asyncio.Event()
        self._no_replies.set()
        self._resume: OrderedDict[tuple[str, str], list[str]] = OrderedDict()
        # One room's key setup at a time; other rooms' go on meanwhile.
        self._room_locks: dict[str, asyncio.Lock] = {}
        # A broadcast sends one text to every room: render it once.
        self._rendered: OrderedDict[str, tuple[dict[str, Any], ...]] = OrderedDict()
        # Rooms joined whose state has not come down a sync yet.
        self.joining: set[str] = set()
        self._last_send = float("-inf")  # clock time the last event was sent

    async def keep_keys(self) -> None:
        """The Olm upkeep nio's sync_forever would do after each sync: upload
        our keys, learn members' devices, claim one-time keys, flush to-device."""
        client = self._client
        if client.olm is None:
            return
        async with self.key_lock:
            try:
                if client.should_upload_keys:
                    await client.keys_upload()
                if client.should_query_keys:
                    await client.keys_query()
                if client.should_claim_keys:
                    await client.keys_claim(client.get_users_for_key_claiming())
                await client.send_to_device_messages()
            except (*NETWORK_ERRORS, LocalProtocolError) as exc:
                log.warning("matrix: encryption key upkeep failed (%s); will retry", exc)

    async def read_limit(self) -> None:
        if self.media is not None:
            await self.media.read_limit()

    def sending(self, *, within: float) -> bool:
        """Whether an event was sent (or is being sent) in the last `within` seconds."""
        return self._clock() - self._last_send < within

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    async def _broadcast_turn(self) -> None:
        """Broadcast traffic waits for replies and is rescheduled while paused."""
        await self._no_replies.wait()
        wait = self.paused_for()
        if wait > 0:
            raise RetryAfter(wait, "the homeserver's rate limit is still in force")

    async def send(self, room_id: str, message: Outgoing, priority: Priority) -> list[str]:
        if priority is Priority.BROADCAST:
            await self._broadcast_turn()
            return await self._send_message(room_id, message)
        self._replies_waiting += 1
        self._no_replies.clear()
        try:
            for attempt in range(1, REPLY_ATTEMPTS + 1):
                wait = self.paused_for()
                if wait > 0:
                    await asyncio.sleep(min(wait, MAX_REPLY_WAIT_S))
                try:
                    return await self._send_message(room_id, message)
                except RetryAfter:
                    if attempt == REPLY_ATTEMPTS:
                        raise
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self._replies_waiting -= 1
            if self._replies_waiting == 0:
                self._no_replies.set()

    async def edit(self, room_id: str, message_ids: Sequence[str], message: Outgoing) -> list[str]:
        """Replace one sent message's events with `message`'s (its files'
        events first, then the text parts); return the ids standing now."""
        await self._broadcast_turn()
        media, markdown = await self._media_parts(room_id, message)
        standing: list[str] = []
        for event_id, content in zip(message_ids, media, strict=False):
            await self._send_event(room_id, _replacement(content, event_id))
            standing.append(event_id)
        text_ids = message_ids[len(standing) :]
        parts = self._contents(markdown)
        for index, content in enumerate(parts):
            if index < len(text_ids):
                await self._send_event(room_id, _replacement(content, text_ids[index]))
                standing.append(text_ids[index])
            else:
                standing.append(await self._send_event(room_id, content))
        for surplus in text_ids[len(parts) :]:
            await self._redact(room_id, surplus, "shortened by a correction")
        return standing

    async def take_back(self, room_id: str, message_ids: Sequence[str], reason: str) -> None:
        await self._broadcast_turn()
        for message_id in message_ids:
            await self._redact(room_id, message_id, reason or "withdrawn by the organisers")

    async def _redact(self, room_id: str, event_id: str, reason: str) -> None:
        try:
            reply = await self._client.room_redact(room_id, event_id, reason=reason)
        except NETWORK_ERRORS as exc:
            raise Transient(f"network: {exc or type(exc).__name__}") from None
        if not isinstance(reply, RoomRedactResponse):
            raise self._failure(reply)

    async def _media_parts(
        self, room_id: str, message: Outgoing
    ) -> tuple[list[dict[str, Any]], str]:
        """The contents of `message`'s file events and its text (with a line
        for each file that cannot be sent)."""
        if not message.media:
            return [], message.markdown
        if self.media is None:
            return [], fallback_markdown(message.media, message.markdown)
        encrypted = self._room(room_id).encrypted and self._client.olm is not None
        return await self.media.contents(
            message.media, message.markdown, encrypted=encrypted, failure=self._failure
        )

    async def _send_message(self, room_id: str, message: Outgoing) -> list[str]:
        media, markdown = await self._media_parts(room_id, message)
        contents = media + self._contents(markdown)
        if message.reply_to is not None and contents:
            contents[0]["m.relates_to"] = {"m.in_reply_to": {"event_id": message.reply_to}}
        key = (room_id, _fingerprint(message))
        ids = self._resume.pop(key, [])
        try:
            for content in contents[len(ids) :]:
                ids.append(await self._send_event(room_id, content))
            if message.attachment is not None and len(ids) == len(contents):
                ids.append(await self._send_file(room_id, message.attachment))
        except Exception:
            if ids:
                self._resume[key] = ids
                while len(self._resume) > _RESUME_ENTRIES:
                    self._resume.popitem(last=False)
            raise
        return ids

    def _contents(self, markdown: str) -> list[dict[str, Any]]:
        """The `m.notice` contents of a text, rendered once for many rooms."""
        parts = self._rendered.get(markdown)
        if parts is None:
            parts = tuple(notice_content(p.body, p.formatted_body) for p in to_matrix(markdown))
            self._rendered[markdown] = parts
            while len(self._rendered) > _RENDERED_ENTRIES:
                self._rendered.popitem(last=False)
        else:
            self._rendered.move_to_end(markdown)
        return [dict(content) for content in parts]

    def _room(self, room_id: str) -> Any:
        room = self._client.rooms.get(room_id)
        if room is None:
            if room_id in self.joining:
                raise Transient("the bot has just joined this room")
            raise ChatGone("the bot is not in this room")
        return room

    async def _send_event(self, room_id: str, content: dict[str, Any]) -> str:
        room = self._room(room_id)
        if room.encrypted and self._client.olm is not None:
            await self._prepare_encrypted(room_id)
        self._last_send = self._clock()
        try:
            reply = await self._client.room_send(
                room_id, "m.room.message", content, ignore_unverified_devices=True
            )
        except NETWORK_ERRORS as exc:
            raise Transient(f"network: {exc or type(exc).__name__}") from None
        except (LocalProtocolError, OlmUnverifiedDeviceError, SendRetryError) as exc:
            raise Transient(f"encryption: {exc}") from None
        if isinstance(reply, RoomSendResponse):
            return str(reply.event_id)
        raise self._failure(reply)

    async def _prepare_encrypted(self, room_id: str) -> None:
        """Make sure every member's device can read what we are about to send
        (trust on first use: unverified devices get the room key too).

        Only what touches the whole Olm account (querying devices, claiming
        one-time keys) is done one at a time for all rooms; the member list
        and the room key are per room, so rooms get ready side by side."""
        client = self._client
        assert client.olm is not None
        try:
            async with self._room_lock(room_id):
                room = client.rooms.get(room_id)
                if room is not None and not room.members_synced:
                    members = await client.joined_members(room_id)
                    if isinstance(members, ErrorResponse):
                        raise self._failure(members)
                if client.should_query_keys:
                    async with self.key_lock:
                        if client.should_query_keys:
                            await client.keys_query()
                if not client.olm.should_share_group_session(room_id):
                    return
                async with self.key_lock:
                    missing = client.get_missing_sessions(room_id)
                    if missing:
                        await client.keys_claim(missing)
                if client.olm.should_share_group_session(room_id):
                    await client.share_group_session(room_id, ignore_unverified_devices=True)
        except NETWORK_ERRORS as exc:
            raise Transient(f"network: {exc or type(exc).__name__}") from None
        except LocalProtocolError as exc:
            raise Transient(f"encryption: {exc}") from None

    def _room_lock(self, room_id: str) -> asyncio.Lock:
        lock = self._room_locks.get(room_id)
        if lock is None:
            lock = self._room_locks[room_id] = asyncio.Lock()
        return lock

    async def _send_file(self, room_id: str, attachment: Attachment) -> str:
        room = self._client.rooms.get(room_id)
        encrypt = bool(room is not None and room.encrypted and self._client.olm is not None)
        try:
            upload, keys = await self._client.upload(
                io.BytesIO(attachment.content),
                content_type=attachment.mime_type,
                filename=attachment.filename,
                encrypt=encrypt,
                filesize=len(attachment.content),
            )
        except NETWORK_ERRORS as exc:
            raise Transient(f"network: {exc or type(exc).__name__}") from None
        if not isinstance(upload, UploadResponse):
            raise self._failure(upload)
        content: dict[str, Any] = {
            "msgtype": "m.file",
            "body": attachment.filename,
            "filename": attachment.filename,
            "info": {"mimetype": attachment.mime_type, "size": len(attachment.content)},
        }
        if keys is not None:
            content["file"] = {**keys, "url": upload.content_uri}
        else:
            content["url"] = upload.content_uri
        return await self._send_event(room_id, content)

    def _failure(self, reply: Any) -> Exception:
        transport = getattr(reply, "transport_response", None)
        error = classify_error(
            getattr(reply, "status_code", None),
            getattr(transport, "status", None),
            str(getattr(reply, "message", "") or ""),
            getattr(reply, "retry_after_ms", None),
        )
        if isinstance(error, RetryAfter):
            self._paused_until = max(self._paused_until, self._clock() + error.seconds)
        return error


def _fingerprint(message: Outgoing) -> str:
    digest = hashlib.sha256(message.markdown.encode())
    if message.attachment is not None:
        digest.update(message.attachment.filename.encode())
    for media in message.media:
        digest.update(f"\0{media.digest}\0{media.alt}".encode())
    return digest.hexdigest()


def _replacement(content: dict[str, Any], event_id: str) -> dict[str, Any]:
    """An `m.replace` of `event_id` with `content` (and a "* " fallback body)."""
    fallback = {**content, "body": "* " + content["body"]}
    if "formatted_body" in content:
        fallback["formatted_body"] = "* " + content["formatted_body"]
    return {
        **fallback,
        "m.new_content": content,
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }
