"""What one media file of an update is, once checked and stripped.

A leaf module: it imports nothing of the bot's, so content, delivery, the
adapters and the web face all speak of the same `Media`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path


class MediaKind(enum.StrEnum):
    """How a platform sends the file: a photo (shown inline) or a document."""

    PHOTO = "photo"
    DOCUMENT = "document"


@dataclass(frozen=True)
class Media:
    """One file of an update, as it leaves the machine.

    `path` is the stripped copy (never the organiser's original), `digest` the
    SHA-256 of its bytes in hex: the key under which each platform remembers
    its upload (a Telegram `file_id`, a Matrix `mxc://` URI), so a file is
    uploaded once per bot and again only when its bytes change. `alt` is the
    text for people who cannot see the image ("" when none was given); a
    translation may carry its own."""

    kind: MediaKind
    name: str  # the file name shown to readers (`leaflet.pdf`)
    mime: str  # image/jpeg, image/png, image/webp or application/pdf
    path: Path
    digest: str
    size: int  # bytes of the stripped copy
    alt: str = ""
    width: int | None = None  # photos only
    height: int | None = None

    def read(self) -> bytes:
        return self.path.read_bytes()
