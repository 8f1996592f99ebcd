"""Checking one media file and keeping its stripped copy.

`MediaFiles.prepare` turns a file an update names into a `Media`: it refuses
what no platform should get (a missing file, a type the bot does not send,
an image that is not what its name says, a document over 50 MB), strips the
metadata (bot/media/strip.py) and writes the stripped copy into the cache
folder under its SHA-256 (`<digest>.jpg`). A photo too large for Telegram's
photo rules (over 10 MB, or width plus height over 10,000) is sent as a
document instead, with a warning.

The cache folder is never inside `updates/` (which may be a git checkout):
the bot keeps it beside its config (`media-cache/`). A file is stripped once
per change: the result is remembered by the source's path, size and
modification time, so a reload that finds it unchanged does not decode it
again. Blocking: called from the catalog's scan, in a worker thread.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from bot.media.strip import IMAGE_FORMATS, StripError, strip
from bot.media.types import Media, MediaKind

MB = 1024 * 1024
# Telegram's rules for a photo (sendPhoto); the bot follows them everywhere
# so an update looks the same on every platform.
MAX_PHOTO_BYTES = 10 * MB
MAX_PHOTO_SIDES = 10_000  # width plus height
MAX_DOCUMENT_BYTES = 50 * MB
MAX_ENTRIES = 10
# Pixels decoded to strip a picture (a 10,000 x 6,000 photo); a larger one is
# refused before it is decoded.
MAX_PIXELS = 60_000_000

SUFFIXES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
}
_EXTENSION = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
_EXTENSION["application/pdf"] = ".pdf"
# Files remembered as prepared; past this the memory starts afresh.
_REMEMBERED = 4096
_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP"}


@dataclass(frozen=True)
class Finding:
    """What is wrong with a file (`warning`: it is still sent)."""

    message: str
    warning: bool = False


@dataclass(frozen=True)
class Prepared:
    media: Media | None
    findings: tuple[Finding, ...] = ()


def _sniff(raw: bytes, mime: str) -> str | None:
    """Why the bytes are not the image type their name says, or None."""
    expected = IMAGE_FORMATS[mime]
    try:
        with Image.open(io.BytesIO(raw)) as image:
            found = image.format or "?"
            width, height = image.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return f"is not a {_NAMES[expected]} image (the file is damaged or not a picture)"
    if width * height > MAX_PIXELS:
        # Decoding it to strip it would take gigabytes of memory.
        return (
            f"is {width}x{height} pixels; a picture may have at most "
            f"{MAX_PIXELS // 1_000_000} million (make it smaller)"
        )
    if found == expected:
        return None
    right = {v: k for k, v in IMAGE_FORMATS.items()}.get(found)
    fix = f"rename it to end in {_EXTENSION[right]}" if right else "convert it to JPEG or PNG"
    return f"is a {_NAMES.get(found, found)} image, not {_NAMES[expected]} as its name says ({fix})"


def _photo_too_big(size: int, width: int | None, height: int | None) -> str | None:
    if size > MAX_PHOTO_BYTES:
        return f"is {size / MB:.1f} MB after stripping, over the 10 MB a photo may have"
    if width is not None and height is not None and width + height > MAX_PHOTO_SIDES:
        return f"is {width}x{height} pixels; a photo's width plus height may be at most 10000"
    return None


class MediaFiles:
    """Prepares media files and keeps their stripped copies in `cache`
    (a fresh temporary folder when None: tests and one-off tools)."""

    def __init__(self, cache: Path | None = None) -> None:
        self._cache = cache
        self._known: dict[tuple[str, int, int], Prepared] = {}
        self._lock = threading.Lock()

    @property
    def cache(self) -> Path:
        with self._lock:
            if self._cache is None:
                self._cache = Path(tempfile.mkdtemp(prefix="strikewire-media-"))
            return self._cache

    def prepare(self, source: Path, alt: str = "") -> Prepared:
        """`source` checked and stripped, as a `Media` with `alt`; or why not."""
        mime = SUFFIXES.get(source.suffix.lower())
        if mime is None:
            shown = source.suffix or "file without a suffix"
            return Prepared(
                None,
                (
                    Finding(
                        f"{shown} is not a type the bot sends "
                        "(use JPEG, PNG or WebP for pictures and PDF for documents)"
                    ),
                ),
            )
        try:
            st = source.stat()
        except FileNotFoundError:
            return Prepared(None, (Finding("does not exist (check the path and its case)"),))
        except OSError as exc:
            return Prepared(None, (Finding(f"cannot be read: {exc.strerror}"),))
        if not source.is_file():
            return Prepared(None, (Finding("is not a file"),))
        if st.st_size > MAX_DOCUMENT_BYTES:
            return Prepared(None, (Finding(_document_too_big(st.st_size)),))
        key = (str(source), st.st_size, st.st_mtime_ns)
        known = self._known.get(key)
        if known is not None and known.media is not None and not known.media.path.is_file():
            known = None  # the cache folder was cleared: strip it again
        if known is None:
            known = self._prepare(source, mime)
            if len(self._known) >= _REMEMBERED:  # old versions of edited files
                self._known.clear()
            self._known[key] = known
        if known.media is None:
            return known
        return Prepared(replace(known.media, alt=alt), known.findings)

    def _prepare(self, source: Path, mime: str) -> Prepared:
        try:
            raw = source.read_bytes()
        except OSError as exc:
            return Prepared(None, (Finding(f"cannot be read: {exc.strerror}"),))
        if mime != "application/pdf":
            wrong = _sniff(raw, mime)
            if wrong:
                return Prepared(None, (Finding(wrong),))
        elif not raw.startswith(b"%PDF-"):
            return Prepared(None, (Finding("is not a PDF (the file is damaged or misnamed)"),))
        try:
            stripped = strip(raw, mime)
        except StripError as exc:
            return Prepared(None, (Finding(f"cannot be decoded ({exc}); save it again"),))
        kind = MediaKind.DOCUMENT if mime == "application/pdf" else MediaKind.PHOTO
        findings: list[Finding] = []
        size = len(stripped.data)
        too_big = kind is MediaKind.PHOTO and _photo_too_big(size, stripped.width, stripped.height)
        if too_big:
            kind = MediaKind.DOCUMENT
            findings.append(
                Finding(f"{too_big}: it is sent as a document, not shown as a photo", True)
            )
        if size > MAX_DOCUMENT_BYTES:
            return Prepared(None, (Finding(_document_too_big(size)),))
        digest = hashlib.sha256(stripped.data).hexdigest()
        path = self._store(digest, _EXTENSION[mime], stripped.data)
        media = Media(
            kind, source.name, mime, path, digest, size, "", stripped.width, stripped.height
        )
        return Prepared(media, tuple(findings))

    def _store(self, digest: str, suffix: str, data: bytes) -> Path:
        folder = self.cache
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{digest}{suffix}"
        if path.is_file() and path.stat().st_size == len(data):
            return path
        # Written beside, then renamed: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def stored(self, digest: str) -> Path | None:
        """The stripped copy named by `digest` (what the web face serves), or None."""
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            return None
        for suffix in set(_EXTENSION.values()):
            path = self.cache / f"{digest}{suffix}"
            if path.is_file():
                return path
        return None


def _document_too_big(size: int) -> str:
    return f"is {size / MB:.1f} MB; a file may be at most 50 MB (make it smaller or link to it)"
