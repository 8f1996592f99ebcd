"""Media files for the tests, made with Pillow and pypdf, carrying the
metadata an organiser's phone or word processor would put in them."""

from __future__ import annotations

import io

from PIL import Image, PngImagePlugin
from pypdf import PdfWriter
from pypdf.generic import NameObject, StreamObject

# Values that must not survive stripping, searched for in the stripped bytes.
CAMERA = "SecretCam X100"
SERIAL = "SN-99887766"
AUTHOR = "Jane Organiser"
XMP_TOOL = "LeakyXmpTool"
PNG_TEXT = "Picket-at-Gate-7"
PDF_PRODUCER = "LeakyProducer 9"
PDF_CREATOR = "LeakyWriter 3"
XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    f'<rdf:Description xmp:CreatorTool="{XMP_TOOL}" '
    'xmlns:xmp="http://ns.adobe.com/xap/1.0/"/></rdf:RDF></x:xmpmeta>'
)
SECRETS = (CAMERA, SERIAL, AUTHOR, XMP_TOOL, PNG_TEXT, PDF_PRODUCER, PDF_CREATOR)


def phone_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0110] = CAMERA  # Model
    exif[0x013B] = AUTHOR  # Artist
    exif[0x0132] = "2027:03:06 12:00:00"  # DateTime
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0xA431] = SERIAL  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.0)
    gps[3] = "E"
    gps[4] = (13.0, 24.0, 36.0)
    return exif


def two_halves(width: int = 40, height: int = 20) -> Image.Image:
    """Red on the left, blue on the right: where red ends up shows the turn."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    return image


def jpeg(orientation: int = 1, size: tuple[int, int] = (40, 20)) -> bytes:
    out = io.BytesIO()
    two_halves(*size).save(
        out, "JPEG", exif=phone_exif(orientation), xmp=XMP.encode(), comment=AUTHOR
    )
    return out.getvalue()


def png() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", PNG_TEXT)
    info.add_itxt("Author", AUTHOR)
    info.add_text("XML:com.adobe.xmp", XMP, zip=True)
    out = io.BytesIO()
    two_halves().save(out, "PNG", pnginfo=info, exif=phone_exif())
    return out.getvalue()


def webp() -> bytes:
    out = io.BytesIO()
    two_halves().save(out, "WEBP", exif=phone_exif(), xmp=XMP.encode())
    return out.getvalue()


def pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Author": AUTHOR, "/Producer": PDF_PRODUCER, "/Creator": PDF_CREATOR})
    stream = StreamObject()
    stream.set_data(XMP.encode())
    stream[NameObject("/Type")] = NameObject("/Metadata")
    writer.root_object[NameObject("/Metadata")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
