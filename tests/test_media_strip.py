"""What leaves the machine carries no metadata: each sample is made with the
data a phone or word processor writes, and the stripped bytes are checked
both by parsing them and by searching them for the values."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from pypdf import PdfReader

from bot.media.strip import StripError, strip
from tests import media_samples as samples


def _rgb(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    pixel = image.convert("RGB").getpixel(xy)
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


def _no_secrets(data: bytes) -> None:
    for secret in samples.SECRETS:
        assert secret.encode() not in data, secret
    assert b"SecretCam" not in data
    assert b"xmpmeta" not in data


@pytest.mark.parametrize(
    ("raw", "mime"),
    [
        (samples.jpeg(), "image/jpeg"),
        (samples.png(), "image/png"),
        (samples.webp(), "image/webp"),
    ],
    ids=["jpeg", "png", "webp"],
)
def test_an_image_keeps_its_pixels_and_loses_exif_xmp_and_text(raw: bytes, mime: str) -> None:
    # The samples do carry what the test looks for.
    assert samples.CAMERA.encode() in raw or samples.PNG_TEXT.encode() in raw
    stripped = strip(raw, mime)
    _no_secrets(stripped.data)
    with Image.open(io.BytesIO(stripped.data)) as image:
        assert image.get_format_mimetype() == mime
        assert len(image.getexif()) == 0
        assert not image.getexif().get_ifd(0x8825)
        info = dict(image.info)
        assert not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment"} & set(info)
        assert "Location" not in info and "Author" not in info
        assert image.size == (40, 20)
        assert stripped.width == 40 and stripped.height == 20
        red, _, blue = _rgb(image, (2, 10))
        assert red > 200 and blue < 60


def test_the_orientation_is_applied_to_the_pixels() -> None:
    # Orientation 6: the phone was turned; shown upright, the image is rotated
    # 90 degrees clockwise, so the red left half ends up on top.
    stripped = strip(samples.jpeg(orientation=6), "image/jpeg")
    with Image.open(io.BytesIO(stripped.data)) as image:
        assert image.size == (20, 40)
        assert 0x0112 not in image.getexif()
        top = _rgb(image, (10, 2))
        bottom = _rgb(image, (10, 37))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


def test_an_icc_profile_is_applied_and_dropped() -> None:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    samples.two_halves().save(out, "PNG", icc_profile=profile)
    stripped = strip(out.getvalue(), "image/png")
    with Image.open(io.BytesIO(stripped.data)) as image:
        assert "icc_profile" not in image.info


def test_a_pdf_loses_author_producer_creator_and_xmp() -> None:
    raw = samples.pdf()
    assert samples.AUTHOR.encode() in raw and samples.XMP_TOOL.encode() in raw
    stripped = strip(raw, "application/pdf")
    _no_secrets(stripped.data)
    assert b"pypdf" not in stripped.data  # no /Producer of our own either
    reader = PdfReader(io.BytesIO(stripped.data))
    assert not reader.metadata
    assert "/Metadata" not in reader.root_object
    assert len(reader.pages) == 1


def test_a_damaged_file_is_refused_not_crashed_on() -> None:
    with pytest.raises(StripError):
        strip(samples.jpeg()[:40], "image/jpeg")
    with pytest.raises(StripError):
        strip(b"%PDF-1.7\nnot really", "application/pdf")


def test_iptc_in_a_jpeg_is_gone() -> None:
    # An APP13 (Photoshop/IPTC) segment right after the start of the image,
    # holding a by-line (2:80) as news photographers' tools write it.
    iptc = b"\x1c\x02\x50" + len(samples.AUTHOR).to_bytes(2, "big") + samples.AUTHOR.encode()
    block = b"8BIM\x04\x04\x00\x00" + len(iptc).to_bytes(4, "big") + iptc
    payload = b"Photoshop 3.0\x00" + block
    segment = b"\xff\xed" + (len(payload) + 2).to_bytes(2, "big") + payload
    plain = io.BytesIO()
    samples.two_halves().save(plain, "JPEG")
    raw = plain.getvalue()[:2] + segment + plain.getvalue()[2:]
    with Image.open(io.BytesIO(raw)) as image:
        assert "photoshop" in image.info  # Pillow reads the IPTC we wrote
    stripped = strip(raw, "image/jpeg")
    assert samples.AUTHOR.encode() not in stripped.data and b"Photoshop" not in stripped.data
    with Image.open(io.BytesIO(stripped.data)) as image:
        assert "photoshop" not in image.info
