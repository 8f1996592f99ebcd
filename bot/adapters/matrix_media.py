"""An update's photos and documents on Matrix: uploaded once, sent as events.

Each file is uploaded once per kind of room: plainly for plain rooms (one
`mxc://` URI every plain room's `m.image` / `m.file` points at), and
encrypted once for encrypted rooms (matrix-nio's `upload(..., encrypt=True)`
encrypts the bytes with a fresh key and returns it; the same URI and key go
into every encrypted room's event, inside the Megolm-encrypted content).
`MatrixFiles` keeps what each upload gave, keyed by kind of room and
`Media.digest`, in memory and in the adapter's key/value state, so a restart
uploads nothing again. One lock per (kind, digest): the first send of a file
uploads it and every other send of that file waits for the result instead
of uploading too; a failed upload lets the next waiter try.

The homeserver's `m.upload.size` is read at start; a file larger than it (or
one the homeserver refuses as M_TOO_LARGE) is not sent but written as its
`[image: alt]` / `[document: name]` line above the text, so the reader
still learns there is one. The limit read is kept in the adapter's state
(`UPLOAD_LIMIT_KEY`), where `strikewire check` finds it (bot/cli/upload_limit.py).

The stored key material is not sealed (docs/media.md, "Matrix"): it only
decrypts the stripped copy of a file the bot publishes to every subscriber
and on its web pages.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from nio import AsyncClient, ContentRepositoryConfigResponse, UploadResponse

from bot.adapters.base import Transient
from bot.adapters.matrix_send import NETWORK_ERRORS
from bot.media.lines import fallback_markdown
from bot.media.types import Media, MediaKind
from bot.store import KeyValue

log = logging.getLogger(__name__)

UPLOAD_LIMIT_KEY = "upload_size"  # in PrefixedState(store, "matrix"): bytes, as text


class TooLarge(Exception):
    """The homeserver refused the upload as too large (M_TOO_LARGE)."""


def upload_name(media: Media) -> str:
    """A document goes up under the name readers see; a photo as
    `photo.<ext>` (a phone's IMG_20270306_1205.jpg dates the picture)."""
    if media.kind is MediaKind.DOCUMENT:
        return media.name
    return "photo." + media.mime.rpartition("/")[2]


def media_content(media: Media, ref: dict[str, Any]) -> dict[str, Any]:
    """The `m.image` / `m.file` content for a file; `ref` is `{"url": mxc}`
    in a plain room, `{"file": EncryptedFile}` in an encrypted one."""
    info: dict[str, Any] = {"mimetype": media.mime, "size": media.size}
    if media.kind is MediaKind.PHOTO:
        if media.width and media.height:
            info.update(w=media.width, h=media.height)
        content = {"msgtype": "m.image", "body": media.alt or "image", "info": info}
    else:
        content = {"msgtype": "m.file", "body": media.name, "filename": media.name, "info": info}
    return {**content, **ref}


class MatrixFiles:
    """What each file's upload gave, per kind of room, for one account."""

    def __init__(self, client: AsyncClient, state: KeyValue | None) -> None:
        self._client = client
        self._state = state
        self._known: dict[str, dict[str, Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.uploads = 0
        self.max_size: int | None = None  # the homeserver's m.upload.size

    async def read_limit(self) -> None:
        """Ask the homeserver how large an upload may be (once, at start)."""
        try:
            reply = await self._client.content_repository_config()
        except NETWORK_ERRORS as exc:
            log.warning("matrix upload limit unknown error=%s", type(exc).__name__)
            return
        if isinstance(reply, ContentRepositoryConfigResponse):
            self.max_size = reply.upload_size
            log.info("matrix upload limit max_bytes=%s", self.max_size)
            await self._keep_limit()

    async def _keep_limit(self) -> None:
        """Keep the limit for `strikewire check` ("" when the server sets none)."""
        if self._state is None:
            return
        value = "" if self.max_size is None else str(self.max_size)
        try:
            await self._state.set(UPLOAD_LIMIT_KEY, value)
        except Exception as exc:  # sending goes on; check just does not know it
            log.warning("matrix upload limit not stored error=%s", type(exc).__name__)

    def fits(self, media: Media) -> bool:
        return self.max_size is None or media.size <= self.max_size

    async def contents(
        self,
        media: Sequence[Media],
        markdown: str,
        *,
        encrypted: bool,
        failure: Callable[[Any], Exception],
    ) -> tuple[list[dict[str, Any]], str]:
        """The media events' contents (in the update's order) and the text,
        with a stand-in line for each file too large for the homeserver."""
        too_big: list[Media] = []
        contents = []
        for item in media:
            try:
                if not self.fits(item):
                    raise TooLarge
                ref = await self.ref(item, encrypted=encrypted, failure=failure)
            except TooLarge:
                too_big.append(item)
                continue
            contents.append(media_content(item, ref))
        return contents, fallback_markdown(tuple(too_big), markdown)

    async def ref(
        self, media: Media, *, encrypted: bool, failure: Callable[[Any], Exception]
    ) -> dict[str, Any]:
        """`{"url": mxc}` or `{"file": ...}` for `media`, uploading it if no
        send has yet (for this kind of room)."""
        key = f"media:{'encrypted' if encrypted else 'plain'}:{media.digest}"
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            found = self._known.get(key)
            if found is None and self._state is not None:
                stored = await self._state.get(key)
                found = json.loads(stored) if stored else None
            if found is None:
                found = await self._upload(media, encrypted, failure)
                await self._keep(key, found)
            self._known[key] = found
            return found

    async def _upload(
        self, media: Media, encrypted: bool, failure: Callable[[Any], Exception]
    ) -> dict[str, Any]:
        data = await asyncio.to_thread(media.read)
        try:
            reply, keys = await self._client.upload(
                io.BytesIO(data),
                content_type=media.mime,
                filename=upload_name(media),
                encrypt=encrypted,
                filesize=len(data),
            )
        except NETWORK_ERRORS as exc:
            raise Transient(f"network: {exc or type(exc).__name__}") from None
        if not isinstance(reply, UploadResponse):
            if getattr(reply, "status_code", None) == "M_TOO_LARGE":
                log.warning("matrix media refused as too large bytes=%d", len(data))
                raise TooLarge
            raise failure(reply)
        self.uploads += 1
        log.info(
            "matrix media uploaded kind=%s bytes=%d encrypted=%s", media.kind, len(data), encrypted
        )
        if encrypted:
            assert keys is not None
            return {"file": {**keys, "url": reply.content_uri}}
        return {"url": reply.content_uri}

    async def _keep(self, key: str, ref: dict[str, Any]) -> None:
        if self._state is None:
            return
        try:
            await self._state.set(key, json.dumps(ref, sort_keys=True))
        except Exception as exc:  # the upload worked; a restart uploads again
            log.warning("matrix media ref not stored error=%s", type(exc).__name__)
