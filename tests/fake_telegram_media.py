"""Photos and documents the fake Bot API server was sent: uploads and file ids.

A file reaches the server either as bytes (a multipart upload, directly in
the field or as `attach://name` from a `media` JSON) or as a `file_id` the
server handed out earlier. Every upload is kept, bytes and all, so a test can
count them and check what left the bot (no GPS, no author). What Telegram
refuses is refused with its texts: a photo over 10 MB
(`PHOTO_SAVE_FILE_INVALID`), one whose width plus height exceeds 10,000
(`PHOTO_INVALID_DIMENSIONS`), a document over 50 MB (413), an unknown
`file_id`, a document's id used as a photo.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from typing import Any

from tests.fake_telegram_wire import JSON, ApiError, parsed_field

PHOTO_LIMIT = 10 * 1024 * 1024
DOCUMENT_LIMIT = 50 * 1024 * 1024
ALBUM_LIMIT = 10
CAPTION_LIMIT = 1024
WRONG_FILE_ID = "Bad Request: wrong file identifier/HTTP URL specified"


@dataclass(frozen=True)
class Upload:
    """One file the server received as bytes, and the id it answered with."""

    file_id: str
    kind: str  # photo | document
    filename: str
    content: bytes
    width: int = 0
    height: int = 0

    def json(self) -> Any:
        unique = f"U{self.file_id}"
        if self.kind == "photo":
            return [
                {
                    "file_id": self.file_id,
                    "file_unique_id": unique,
                    "width": self.width,
                    "height": self.height,
                    "file_size": len(self.content),
                }
            ]
        return {
            "file_id": self.file_id,
            "file_unique_id": unique,
            "file_name": self.filename,
            "file_size": len(self.content),
        }


def _dimensions(content: bytes) -> tuple[int, int]:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(content)) as image:
            return image.size
    except Exception:
        raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED") from None


class FakeMedia:
    """Every upload, and the file ids the server knows."""

    def __init__(self) -> None:
        self.uploads: list[Upload] = []  # in order, with the bytes received
        self.by_id: dict[str, Upload] = {}
        self._numbers = itertools.count(1)

    def upload_count(self, kind: str | None = None) -> int:
        return sum(1 for u in self.uploads if kind is None or u.kind == kind)

    def resolve(self, kind: str, value: Any, params: JSON) -> Upload:
        """The file a field names: fresh bytes (an upload) or a known file_id."""
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
            if value is None:
                raise ApiError(400, "Bad Request: wrong HTTP URL specified")
        if isinstance(value, tuple):
            return self._upload(kind, value[0], value[1])
        if not isinstance(value, str) or not value:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        known = self.by_id.get(value)
        if known is None:
            raise ApiError(400, WRONG_FILE_ID)
        if known.kind != kind:
            raise ApiError(
                400, f"Bad Request: can't use file of type {known.kind.title()} as {kind.title()}"
            )
        return known

    def _upload(self, kind: str, filename: str, content: bytes) -> Upload:
        width = height = 0
        if kind == "photo":
            if len(content) > PHOTO_LIMIT:
                raise ApiError(400, "Bad Request: PHOTO_SAVE_FILE_INVALID")
            width, height = _dimensions(content)
            if width + height > 10_000:
                raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        elif len(content) > DOCUMENT_LIMIT:
            raise ApiError(413, "Request Entity Too Large")
        prefix = "AgAC" if kind == "photo" else "BQAC"
        upload = Upload(
            f"{prefix}x{next(self._numbers):05d}", kind, filename or "file", content, width, height
        )
        self.uploads.append(upload)
        self.by_id[upload.file_id] = upload
        return upload

    def album(self, params: JSON) -> list[tuple[Upload, JSON]]:
        """sendMediaGroup's items, checked as Telegram checks them."""
        items = parsed_field(params.get("media"))
        if not isinstance(items, list) or not items:
            raise ApiError(400, "Bad Request: media to send are not specified")
        if len(items) > ALBUM_LIMIT:
            raise ApiError(400, "Bad Request: too much messages to send as an album")
        if len(items) < 2:
            raise ApiError(400, "Bad Request: media group must include at least 2 items")
        kinds = {str(item.get("type")) for item in items}
        if len(kinds) > 1 and "document" in kinds:
            raise ApiError(400, "Bad Request: document can't be mixed with other media types")
        return [
            (self.resolve(str(item["type"]), item.get("media"), params), item) for item in items
        ]
