"""An update's photos and documents on Telegram: how they go out, once per file.

Layout of one update in a chat (the ids `send` returns, in this order):

- the photos: one photo by `sendPhoto`, 2–10 as one album (`sendMediaGroup`,
  each photo its own message); more than 10 in albums of 10;
- then each document by `sendDocument` (as `strikewire preview` says:
  bot/media/plan.py);
- then the text parts, the first a reply to the first media message.
  One file alone takes the text as its caption instead, when the rendered
  text fits Telegram's 1,024 characters.

Each file is uploaded once per bot. `FileIds` keeps the `file_id` Telegram
answers for each `Media.digest`, in memory and in the adapter's state (so a
restart uploads nothing again); the first send of a file claims it and
uploads the bytes, and every other send of that file (to other chats, at the
same time) waits for its `file_id` instead of uploading too. A failed upload
releases the claim, and one of the waiters uploads instead.

Corrections: the first ids of a sent update are its media messages, one per
file. The bot cannot know which file a chat's message shows now (the store
keeps no copy of it), so every media message gets `editMessageMedia` with
its current file (and the caption, where it carries the text); Telegram
answers "message is not modified" for the unchanged ones, which counts as
done. A correction may replace files but not add or remove them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from telegram import InputFile, InputMediaDocument, InputMediaPhoto
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.adapters.base import Outgoing, Priority, Rejected
from bot.media.types import Media, MediaKind
from bot.store import KeyValue

log = logging.getLogger(__name__)

ALBUM_LIMIT = 10
T = TypeVar("T")


class Call(Protocol):
    """TelegramSender._call: one request in its limiter slot(s)."""

    async def __call__(
        self,
        chat_id: str,
        priority: Priority,
        request: Callable[[], Awaitable[T]],
        *,
        finish: bool,
        weight: int = 1,
    ) -> T: ...


def groups(media: Sequence[Media]) -> list[tuple[Media, ...]]:
    """The requests an update's files go in: photos first, then documents."""
    photos = tuple(m for m in media if m.kind is MediaKind.PHOTO)
    out = [photos[i : i + ALBUM_LIMIT] for i in range(0, len(photos), ALBUM_LIMIT)]
    return out + [(m,) for m in media if m.kind is MediaKind.DOCUMENT]


class FileIds:
    """The `file_id` of each file this bot has uploaded, keyed by digest."""

    def __init__(self, state: KeyValue | None, bot_id: str) -> None:
        self._state = state
        self._prefix = f"file:{bot_id}:"  # a file_id belongs to one bot
        self._known: dict[str, str] = {}
        self._uploading: dict[str, asyncio.Event] = {}
        self._stale: set[str] = set()  # stored ids Telegram refused: upload again
        self.uploads = 0

    async def claim(self, media: Sequence[Media]) -> dict[str, str | None]:
        """Each file's file_id; None for those the caller must upload (claimed
        for it: call `uploaded` or `release`). Waits while another send
        uploads one of them; claims nothing while it waits (no deadlock)."""
        while True:
            for item in media:
                await self._load(item.digest)
            busy = [
                self._uploading[m.digest]
                for m in media
                if m.digest not in self._known and m.digest in self._uploading
            ]
            if not busy:
                break
            await asyncio.gather(*(event.wait() for event in busy))
        found: dict[str, str | None] = {}
        for item in media:
            found[item.digest] = self._known.get(item.digest)
            if found[item.digest] is None and item.digest not in self._uploading:
                self._uploading[item.digest] = asyncio.Event()
        return found

    async def _load(self, digest: str) -> None:
        if digest in self._known or digest in self._uploading or digest in self._stale:
            return
        if self._state is None:
            return
        stored = await self._state.get(self._prefix + digest)
        if stored:
            self._known[digest] = stored

    async def uploaded(self, digest: str, file_id: str) -> None:
        self.uploads += 1
        self._known[digest] = file_id
        self._stale.discard(digest)
        self.release([digest])
        if self._state is not None:
            try:
                await self._state.set(self._prefix + digest, file_id)
            except Exception as exc:  # the send went out; a restart uploads again
                log.warning("telegram file id not stored error=%s", type(exc).__name__)

    def forget(self, digests: Sequence[str]) -> None:
        """Telegram no longer knows these file ids: the next send uploads."""
        for digest in digests:
            self._known.pop(digest, None)
            self._stale.add(digest)

    def release(self, digests: Sequence[str]) -> None:
        for digest in digests:
            event = self._uploading.pop(digest, None)
            if event is not None:
                event.set()


def _input(media: Media, file_id: str | None) -> str | InputFile:
    if file_id is not None:
        return file_id
    # attach: inside a media JSON (albums, editMessageMedia) a file is named
    # by an `attach://` reference to its own part of the form.
    return InputFile(media.read(), filename=upload_name(media), attach=True)


def upload_name(media: Media) -> str:
    """The file name sent with the bytes. A document's is shown to readers;
    a photo's is not, and a phone's name (IMG_20261206_0712.jpg) dates the
    picture: photos go up as `photo.<ext>`."""
    if media.kind is MediaKind.DOCUMENT:
        return media.name
    return "photo." + media.mime.rpartition("/")[2]


def _item(media: Media, ref: str | InputFile, caption: str | None = None) -> Any:
    kind = InputMediaPhoto if media.kind is MediaKind.PHOTO else InputMediaDocument
    mode = ParseMode.HTML if caption else None
    return kind(media=ref, caption=caption or None, parse_mode=mode)


def file_id_of(message: Any) -> str:
    """The file a sent PTB `Message` shows (the largest size of a photo)."""
    if message.photo:
        return str(message.photo[-1].file_id)
    return str(message.document.file_id)


class MediaSender:
    """Sends and edits an update's files through TelegramSender's slots."""

    def __init__(self, bot: Callable[[], Any], call: Call, files: FileIds) -> None:
        self._bot, self._call, self.files = bot, call, files

    async def send(
        self,
        chat_id: str,
        ref: int | str,
        message: Outgoing,
        caption: str | None,
        options: Callable[[str | None], dict[str, Any]],
        priority: Priority,
    ) -> list[str]:
        """Every file of `message`; `caption` (the text, when it fits) on a lone file."""
        ids: list[str] = []
        for group in groups(message.media):
            reply = message.reply_to if not ids else None
            ids += await self._send_group(
                chat_id, ref, group, caption, options(reply), priority, bool(ids)
            )
        return ids

    async def _send_group(
        self,
        chat_id: str,
        ref: int | str,
        group: tuple[Media, ...],
        caption: str | None,
        options: dict[str, Any],
        priority: Priority,
        finish: bool,
        retried: bool = False,
    ) -> list[str]:
        known = await self.files.claim(group)
        mine = [m.digest for m in group if known[m.digest] is None]
        bot = self._bot()

        async def request() -> list[Any]:
            refs = [await _read(m, known[m.digest]) for m in group]
            if len(group) > 1:
                items = [_item(m, r) for m, r in zip(group, refs, strict=True)]
                return list(await bot.send_media_group(ref, items, **options))
            send = bot.send_photo if group[0].kind is MediaKind.PHOTO else bot.send_document
            mode = ParseMode.HTML if caption else None
            return [await send(ref, refs[0], caption=caption, parse_mode=mode, **options)]

        try:
            sent = await self._call(chat_id, priority, request, finish=finish, weight=len(group))
        except BaseException as exc:
            # Whatever failed (a 502, a cancelled send), the sends waiting for
            # these files are let go: one of them uploads instead.
            self.files.release(mine)
            if not isinstance(exc, Rejected):
                raise
            stale = [m.digest for m in group if known[m.digest] is not None]
            if retried or not stale or "file identifier" not in exc.reason.lower():
                raise
            # A stored id Telegram no longer takes: upload those files again.
            self.files.forget(stale)
            return await self._send_group(
                chat_id, ref, group, caption, options, priority, finish, retried=True
            )
        try:
            for media, message in zip(group, sent, strict=True):
                if media.digest in mine:
                    await self.files.uploaded(media.digest, file_id_of(message))
        finally:
            self.files.release(mine)
        return [str(m.message_id) for m in sent]

    async def edit(
        self, chat_id: str, ref: int | str, ids: Sequence[str], media: Sequence[Media], caption: str
    ) -> list[str]:
        """Make the media messages `ids` show `media` (in send order); the
        first carries `caption` when it is the update's only file."""
        ordered = [m for group in groups(media) for m in group]
        for index, (message_id, item) in enumerate(zip(ids, ordered, strict=False)):
            text = caption if index == 0 and len(ordered) == 1 else None
            await self._edit_one(chat_id, ref, message_id, item, text, finish=index > 0)
        return list(ids[: len(ordered)])

    async def _edit_one(
        self,
        chat_id: str,
        ref: int | str,
        message_id: str,
        media: Media,
        caption: str | None,
        *,
        finish: bool,
    ) -> None:
        known = await self.files.claim([media])
        mine = [media.digest] if known[media.digest] is None else []
        bot = self._bot()

        async def request() -> Any:
            item = _item(media, await _read(media, known[media.digest]), caption)
            try:
                return await bot.edit_message_media(item, chat_id=ref, message_id=int(message_id))
            except BadRequest as exc:
                if "message is not modified" not in exc.message.lower():
                    raise
                return None

        try:
            edited = await self._call(chat_id, Priority.BROADCAST, request, finish=finish)
            if mine and edited is not None and edited is not True:
                await self.files.uploaded(media.digest, file_id_of(edited))
        finally:
            self.files.release(mine)


async def _read(media: Media, file_id: str | None) -> str | InputFile:
    if file_id is not None:
        return file_id
    return await asyncio.to_thread(_input, media, None)
