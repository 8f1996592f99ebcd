"""Files sent to the bot on Matrix (`m.file`): what the event says about them,
and fetching one from the homeserver's media repository, decrypted.

In a plain room the event names the file by `url`; in an encrypted room nio
decrypts the event (a `RoomEncryptedFile`), but the file itself is AES-CTR
ciphertext that `decrypt_attachment` opens with the key, IV and SHA-256 hash
the event carries. A caption (MSC2530) is the `body` when the event also has a
`filename` that differs from it; otherwise `body` is just the file's name.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from nio import AsyncClient, MemoryDownloadResponse, RoomEncryptedFile, RoomMessageFile
from nio.crypto.attachments import decrypt_attachment
from nio.exceptions import EncryptionError

from bot.adapters.base import Document
from bot.adapters.matrix_send import NETWORK_ERRORS
from bot.limits import MAX_DOCUMENT_BYTES

log = logging.getLogger(__name__)
# nio downloads without a timeout; a stalled one must not hold up the room's answers.
FETCH_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class MatrixFile:
    """A file named by an event, before anyone downloads it."""

    url: str  # mxc://server/media-id
    filename: str
    size: int | None  # bytes, from `info.size` if the sender's client gave it
    caption: str | None
    # For an encrypted room's file: (key, sha256 hash, iv), all unpadded base64.
    secret: tuple[str, str, str] | None = None


def file_of(event: RoomMessageFile | RoomEncryptedFile) -> MatrixFile | None:
    """What `event` says about its file; None if it names none we can fetch."""
    content: dict[str, Any] = event.source.get("content", {})
    body = event.body if isinstance(event.body, str) else ""
    named = content.get("filename")
    filename = named if isinstance(named, str) and named else body
    caption = body if isinstance(named, str) and named and body and body != named else None
    info = content.get("info")
    raw_size = info.get("size") if isinstance(info, dict) else None
    size = raw_size if isinstance(raw_size, int) and raw_size >= 0 else None
    if not event.url.startswith("mxc://"):
        return None
    secret = None
    if isinstance(event, RoomEncryptedFile):
        key = event.key.get("k") if isinstance(event.key, dict) else None
        digest = event.hashes.get("sha256") if isinstance(event.hashes, dict) else None
        if not (isinstance(key, str) and isinstance(digest, str) and event.iv):
            return None
        secret = (key, digest, event.iv)
    return MatrixFile(event.url, filename or "document", size, caption, secret)


async def fetch(client: AsyncClient, file: MatrixFile) -> Document | None:
    """The file as a `Document`: its bytes if at most MAX_DOCUMENT_BYTES, else
    only its size. None if it could not be fetched or decrypted (logged)."""
    if file.size is not None and file.size > MAX_DOCUMENT_BYTES:
        return Document(file.filename, file.size, None)
    try:
        async with asyncio.timeout(FETCH_TIMEOUT_S):
            data = await _download(client, file)
    except TimeoutError:
        log.warning("matrix: file download failed error=timeout")
        return None
    if data is None:
        return None
    if len(data) > MAX_DOCUMENT_BYTES:  # info.size was missing (or wrong)
        return Document(file.filename, len(data), None)
    if file.secret is not None:
        key, digest, iv = file.secret
        try:
            data = decrypt_attachment(data, key, digest, iv)
        except (EncryptionError, ValueError) as exc:
            log.warning("matrix: file not decrypted error=%s", type(exc).__name__)
            return None
    return Document(file.filename, len(data), bytes(data))


async def _download(client: AsyncClient, file: MatrixFile) -> bytes | None:
    if file.size is None:
        data = await _capped(client, file.url)
    else:
        try:
            reply = await client.download(mxc=file.url)
        except NETWORK_ERRORS as exc:
            log.warning("matrix: file download failed error=%s", type(exc).__name__)
            return None
        if not isinstance(reply, MemoryDownloadResponse):
            log.warning(
                "matrix: file download refused status=%s", getattr(reply, "status_code", "")
            )
            return None
        data = reply.body
    return data


async def _capped(client: AsyncClient, url: str) -> bytes | None:
    """Download without knowing the size: stop reading once past the limit."""
    server, _, media_id = url.removeprefix("mxc://").partition("/")
    session = client.client_session
    if session is None:
        return None
    address = f"{client.homeserver}/_matrix/client/v1/media/download/{server}/{media_id}"
    headers = {"Authorization": f"Bearer {client.access_token}"}
    try:
        async with session.get(address, headers=headers) as response:
            if response.status != 200:
                log.warning("matrix: file download refused status=%s", response.status)
                return None
            chunks: list[bytes] = []
            total = 0
            async for chunk in response.content.iter_chunked(64 * 1024):
                chunks.append(chunk)
                total += len(chunk)
                if total > MAX_DOCUMENT_BYTES:
                    break
            return b"".join(chunks)
    except NETWORK_ERRORS as exc:
        log.warning("matrix: file download failed error=%s", type(exc).__name__)
        return None
