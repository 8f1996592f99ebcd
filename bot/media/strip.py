"""Stripping a file of everything but what a reader sees.

Images are decoded and written afresh from their pixels: the new file holds
no EXIF (GPS, camera, serial numbers, dates), XMP, IPTC, text chunks or ICC
profile, because nothing but the pixels is copied. The EXIF orientation is
applied to the pixels first (so a phone photo is not shown on its side), and
an ICC profile is applied too: the pixels are converted to sRGB and the
profile dropped, since a profile's description and copyright name the
device's maker. An animated image keeps its first frame only.

A PDF is rewritten by pypdf without its document information (/Author,
/Producer, /Creator, /Title, dates), without XMP (the catalog's and each
page's /Metadata) and without /PieceInfo (the authoring tool's private data).
Images embedded inside a PDF are not re-encoded (see docs/media.md).

Pure bytes in, bytes out; blocking (decoding, encoding): run it off the event
loop, as the catalog's scan does.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject

# Pillow's format name for each image type the bot sends.
IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
# Modes written as they are; anything else (palette, CMYK, 16-bit) is converted.
_PLAIN_MODES = ("RGB", "RGBA", "L", "LA")
_SRGB = ImageCms.createProfile("sRGB")


class StripError(Exception):
    """The file cannot be decoded (damaged, or not what it claims to be)."""


@dataclass(frozen=True)
class Stripped:
    data: bytes
    width: int | None = None
    height: int | None = None


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """The pixels as sRGB according to the embedded profile; unchanged when
    the profile cannot be read (the colours may then look a little off)."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        mode = "RGBA" if "A" in image.mode else "RGB"
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert(mode)
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image
    return converted if converted is not None else image


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image holding nothing but `image`'s pixels (no info, no EXIF)."""
    if image.mode not in _PLAIN_MODES:
        transparent = "A" in image.mode or "transparency" in image.info
        image = image.convert("RGBA" if transparent else "RGB")
    return Image.frombytes(image.mode, image.size, image.tobytes())


def strip_image(raw: bytes, mime: str) -> Stripped:
    """The image re-encoded from its (oriented, sRGB) pixels alone."""
    fmt = IMAGE_FORMATS[mime]
    try:
        with Image.open(io.BytesIO(raw)) as opened:
            opened.seek(0)
            icc = opened.info.get("icc_profile")
            oriented = ImageOps.exif_transpose(opened)
            if icc:
                oriented = _to_srgb(oriented, icc)
            clean = _pixels_only(oriented)
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise StripError(str(exc) or type(exc).__name__) from None
    if fmt == "JPEG" and clean.mode not in ("RGB", "L"):
        clean = clean.convert("RGB")
    out = io.BytesIO()
    options: dict[str, object] = {"quality": 90} if fmt in ("JPEG", "WEBP") else {"optimize": True}
    clean.save(out, format=fmt, **options)
    return Stripped(out.getvalue(), clean.width, clean.height)


def _drop_orphans(writer: PdfWriter) -> None:
    try:  # pypdf 7 renamed the keywords
        writer.compress_identical_objects(remove_duplicates=False, remove_unreferenced=True)
    except TypeError:
        writer.compress_identical_objects(remove_identicals=False, remove_orphans=True)


def strip_pdf(raw: bytes) -> Stripped:
    """The PDF rewritten without document information, XMP or /PieceInfo."""
    try:
        reader = PdfReader(io.BytesIO(raw))
        writer = PdfWriter(clone_from=reader)
        writer.metadata = None
        root = writer.root_object
        for key in ("/Metadata", "/PieceInfo"):
            if key in root:
                del root[NameObject(key)]
        for page in writer.pages:
            for key in ("/Metadata", "/PieceInfo"):
                if key in page:
                    del page[NameObject(key)]
        # What was cut off is still among the writer's objects: drop it.
        _drop_orphans(writer)
        out = io.BytesIO()
        writer.write(out)
    except Exception as exc:  # pypdf raises many kinds for a damaged file
        raise StripError(str(exc) or type(exc).__name__) from None
    return Stripped(out.getvalue())


def strip(raw: bytes, mime: str) -> Stripped:
    """`raw` (of type `mime`) without its metadata."""
    if mime == "application/pdf":
        return strip_pdf(raw)
    return strip_image(raw, mime)
