"""`media:` in an update: the files are checked, stripped, carried by the
item (translated alts included), and every refusal is shown at its line."""

from __future__ import annotations

import io
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.cli import main
from bot.content.catalog import Catalog
from bot.media.files import MediaFiles
from bot.media.types import MediaKind
from tests import media_samples as samples
from tests.conftest import write_update

HEAD = "kind: news\ntitle: Picket\ndate: 2026-11-20\n"


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "updates"
    folder.mkdir()
    (folder / "gate.jpg").write_bytes(samples.jpeg(orientation=6))
    (folder / "leaflet.pdf").write_bytes(samples.pdf())
    return folder


def _catalog(tmp_path: Path, folder: Path) -> Catalog:
    return Catalog(folder, ZoneInfo("UTC"), media_files=MediaFiles(tmp_path / "cache")).load()


def _problems(catalog: Catalog) -> list[str]:
    return [p.format() for p in catalog.problems + catalog.warnings]


def test_the_item_carries_stripped_copies_outside_updates(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    media = "media:\n  - {file: gate.jpg, alt: The picket at gate 7}\n  - leaflet.pdf\n"
    write_update(folder, "picket.md", HEAD + media)
    catalog = _catalog(tmp_path, folder)
    assert _problems(catalog) == []
    photo, leaflet = catalog.items["picket"].media
    assert (photo.kind, photo.mime, photo.alt) == (
        MediaKind.PHOTO,
        "image/jpeg",
        "The picket at gate 7",
    )
    assert (photo.width, photo.height) == (20, 40)  # turned upright
    assert (leaflet.kind, leaflet.name, leaflet.alt) == (MediaKind.DOCUMENT, "leaflet.pdf", "")
    for m in (photo, leaflet):
        assert m.path.parent == tmp_path / "cache"
        assert m.path.name.startswith(m.digest)
        data = m.read()
        assert m.size == len(data)
        for secret in samples.SECRETS:
            assert secret.encode() not in data
    # The originals are left as they were.
    assert samples.CAMERA.encode() in (folder / "gate.jpg").read_bytes()


def test_a_translation_gives_its_own_alts_and_may_not_change_the_files(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    write_update(folder, "picket.md", HEAD + "media:\n  - {file: gate.jpg, alt: The gate}\n")
    write_update(folder, "picket.ru.md", "title: Пикет\nmedia:\n  - alt: Ворота", "Текст.")
    catalog = _catalog(tmp_path, folder)
    item = catalog.items["picket"]
    assert item.in_language("ru").media[0].alt == "Ворота"
    assert item.in_language("en").media[0].alt == "The gate"
    assert item.in_language("ru").media[0].digest == item.media[0].digest
    write_update(folder, "picket.ru.md", "title: Пикет\nmedia:\n  - {file: leaflet.pdf, alt: Л}")
    catalog.reload()
    assert (
        "updates/picket.ru.md:4: media[0]: leaflet.pdf: a translation may not change the files"
        in (_problems(catalog)[0])
    )


def test_a_changed_picture_or_alt_is_a_changed_update(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    write_update(folder, "picket.md", HEAD + "media:\n  - {file: gate.jpg, alt: The gate}\n")
    catalog = _catalog(tmp_path, folder)
    before = catalog.items["picket"].media[0].digest
    (folder / "gate.jpg").write_bytes(samples.jpeg(orientation=1, size=(60, 30)))
    assert catalog.reload().changed == ("picket",)
    assert catalog.items["picket"].media[0].digest != before
    write_update(folder, "picket.md", HEAD + "media:\n  - {file: gate.jpg, alt: The side gate}\n")
    assert catalog.reload().changed == ("picket",)
    assert not catalog.reload()


def _png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("L", size).save(out, "PNG")
    return out.getvalue()


def test_each_refused_file_is_named_at_its_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "anim.gif").write_bytes(b"GIF89a")
    (folder / "fake.jpg").write_bytes(_png((4, 4)))
    (folder / "junk.webp").write_bytes(b"not an image at all")
    (tmp_path / "outside.jpg").write_bytes(samples.jpeg())
    entries = ["missing.jpg", "anim.gif", "fake.jpg", "junk.webp", "../outside.jpg"]
    write_update(folder, "bad.md", HEAD + "media:\n" + "".join(f"  - {e}\n" for e in entries))
    write_update(folder, "many.md", HEAD + "media:\n" + "  - leaflet.pdf\n" * 11)
    catalog = _catalog(tmp_path, folder)
    assert catalog.items == {}
    assert _problems(catalog) == [
        "updates/bad.md:6: media[0]: missing.jpg does not exist (check the path and its case)",
        "updates/bad.md:7: media[1]: anim.gif .gif is not a type the bot sends "
        "(use JPEG, PNG or WebP for pictures and PDF for documents)",
        "updates/bad.md:8: media[2]: fake.jpg is a PNG image, not JPEG as its name says "
        "(rename it to end in .png)",
        "updates/bad.md:9: media[3]: junk.webp is not a WebP image "
        "(the file is damaged or not a picture)",
        "updates/bad.md:10: media[4]: ../outside.jpg leads out of updates/ "
        "(copy the file into the folder, beside the update)",
        "updates/many.md:5: media: 11 files; an update may carry at most 10 "
        "(split it into two updates)",
    ]


def test_warnings_an_image_without_alt_and_a_photo_sent_as_a_document(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "banner.png").write_bytes(_png((9000, 1200)))
    write_update(folder, "wide.md", HEAD + "media:\n  - gate.jpg\n  - {file: banner.png, alt: B}\n")
    catalog = _catalog(tmp_path, folder)
    assert catalog.problems == []
    assert [m.kind for m in catalog.items["wide"].media] == [MediaKind.PHOTO, MediaKind.DOCUMENT]
    assert _problems(catalog) == [
        "updates/wide.md:6: warning: media[0]: gate.jpg has no alt (describe the picture "
        "for people who cannot see it: - {file: gate.jpg, alt: what it shows})",
        "updates/wide.md:7: warning: media[1]: banner.png is 9000x1200 pixels; a photo's width "
        "plus height may be at most 10000: it is sent as a document, not shown as a photo",
    ]


def test_a_document_over_50_mb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _folder(tmp_path)
    monkeypatch.setattr("bot.media.files.MAX_DOCUMENT_BYTES", 100)
    write_update(folder, "big.md", HEAD + "media:\n  - leaflet.pdf\n")
    catalog = _catalog(tmp_path, folder)
    assert _problems(catalog)[0].startswith("updates/big.md:6: media[0]: leaflet.pdf is 0.0 MB")


def test_check_shows_media_problems_and_stays_quiet_about_the_files_themselves(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    (folder / "unused.png").write_bytes(_png((4, 4)))
    write_update(folder, "picket.md", HEAD + "media:\n  - {file: gate.jpg, alt: G}\n  - gone.pdf\n")
    (tmp_path / "config.yaml").write_text("updates_dir: updates\n")
    assert main(["check", "-c", str(tmp_path / "config.yaml")]) == 1
    out = capsys.readouterr()
    lines = out.out.splitlines() + out.err.splitlines()
    assert lines[0] == (
        "updates/picket.md:7: media[1]: gone.pdf does not exist (check the path and its case)"
    )
    # Neither the pictures nor the PDF are taken for misnamed update files.
    assert not any("gate.jpg" in line or "unused.png" in line for line in lines)


def test_a_translation_may_not_list_more_files_than_its_base(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    write_update(folder, "picket.md", HEAD + "media:\n  - {file: gate.jpg, alt: The gate}\n")
    write_update(folder, "picket.ru.md", "title: П\nmedia:\n  - alt: Ворота\n  - alt: Ещё")
    catalog = _catalog(tmp_path, folder)
    assert _problems(catalog) == [
        "updates/picket.ru.md:4: media: 2 entries, but updates/picket.md has 1 files "
        "(a translation gives the alt of the base file's entries, in order)"
    ]
    assert catalog.items["picket"].translations == {}


def test_preview_lists_the_files_and_what_each_platform_sends(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = _folder(tmp_path)
    media = "media:\n  - {file: gate.jpg, alt: The gate}\n  - gate.jpg\n  - leaflet.pdf\n"
    path = write_update(folder, "picket.md", HEAD + media)
    assert main(["preview", str(path)]) == 0
    out = capsys.readouterr().out
    lines = out[out.index("── media") :].splitlines()
    assert lines[0] == "── media: 3 file(s), metadata stripped ──"
    assert lines[1].startswith("gate.jpg: photo, 20x40, ") and lines[1].endswith(
        ' KB stripped, alt "The gate"'
    )
    assert lines[2].endswith("KB stripped, no alt")
    assert lines[3].startswith("leaflet.pdf: document, ")
    assert lines[4:9] == [
        "── telegram sends ──",
        "1. sendMediaGroup: an album of 2 photos",
        "2. sendDocument leaflet.pdf",
        "3. sendMessage: the text, as a reply to the first",
        "4. each file uploaded once; every later chat gets its file_id",
    ]
    assert lines[9:14] == [
        "── matrix sends (each file uploaded once per kind of room) ──",
        "1. m.image The gate",
        "2. m.image (no alt)",
        "3. m.file leaflet.pdf",
        "4. the text",
    ]
    assert "[image: The gate]" in lines and "[image]" in lines
    assert lines[-1] == "[document: leaflet.pdf]"
    # The stripped copies are kept beside the config, not in updates/.
    assert (tmp_path / "media-cache").is_dir()
    assert sorted(p.name for p in folder.iterdir()) == ["gate.jpg", "leaflet.pdf", "picket.md"]


def test_one_photo_takes_the_text_as_its_caption_when_it_fits() -> None:
    from bot.media.plan import telegram_plan
    from bot.media.types import Media

    photo = Media(MediaKind.PHOTO, "a.jpg", "image/jpeg", Path("a.jpg"), "a" * 64, 1)
    assert telegram_plan((photo,), 1024)[0] == (
        "sendPhoto a.jpg, the text as its caption (1024 characters)"
    )
    assert telegram_plan((photo,), 1025)[1] == (
        "sendMessage: the text, as a reply to the first (over 1024 characters for a caption)"
    )


def test_a_link_loop_a_fifo_and_a_giant_picture_are_refused_not_hung_on(
    tmp_path: Path,
) -> None:
    import os

    folder = _folder(tmp_path)
    (folder / "loop.jpg").symlink_to("loop.jpg")
    os.mkfifo(folder / "pipe.png")
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")  # 81 million pixels, a few KB
    (folder / "huge.png").write_bytes(out.getvalue())
    write_update(folder, "odd.md", HEAD + "media:\n  - loop.jpg\n  - pipe.png\n  - huge.png\n")
    catalog = _catalog(tmp_path, folder)
    problems = _problems(catalog)
    assert problems[0].startswith("updates/odd.md:6: media[0]: loop.jpg cannot be read")
    assert problems[1] == "updates/odd.md:7: media[1]: pipe.png is not a file"
    assert problems[2] == (
        "updates/odd.md:8: media[2]: huge.png is 9000x9000 pixels; a picture may have "
        "at most 60 million (make it smaller)"
    )


def test_a_cleared_cache_is_filled_again_on_the_next_scan(tmp_path: Path) -> None:
    import shutil

    folder = _folder(tmp_path)
    write_update(folder, "picket.md", HEAD + "media:\n  - {file: gate.jpg, alt: G}\n")
    catalog = _catalog(tmp_path, folder)
    path = catalog.items["picket"].media[0].path
    shutil.rmtree(tmp_path / "cache")
    assert not catalog.reload()
    assert path.is_file() and catalog.items["picket"].media[0].path == path
