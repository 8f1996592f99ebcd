"""The web face shows an update's photos and links its leaflet, all served
by the bot from the stripped copies; the feed gives each file as an
enclosure; `strikewire site` copies them; a withdrawn update's files go."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.content.catalog import Catalog
from bot.media.files import MediaFiles
from bot.web.mirror import publish
from bot.web.site import Site
from tests import media_samples as samples
from tests.conftest import write_update
from tests.web import NOW, get, running_web, web_config

FRONT = """
kind: news
title: The picket at gate 7
date: 2026-11-24
media:
  - {file: gate.jpg, alt: "Workers at gate 7 <b>holding</b> a banner"}
  - leaflet.pdf
"""


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "updates"
    folder.mkdir()
    (folder / "gate.jpg").write_bytes(samples.jpeg(orientation=6))
    (folder / "leaflet.pdf").write_bytes(samples.pdf())
    write_update(folder, "gate.md", FRONT, "We stand at gate 7.")
    return folder


async def test_the_page_shows_the_photo_and_links_the_leaflet(tmp_path: Path) -> None:
    _folder(tmp_path)
    async with running_web(web_config(tmp_path)) as bot:
        photo, leaflet = bot.app.catalog.items["gate"].media
        page = await get(bot.url + "/u/gate")
        html = page.text
        assert (
            f'<img src="../m/{photo.digest}.jpg" alt="Workers at gate 7 &lt;b&gt;holding&lt;/b&gt; '
            'a banner" width="20" height="40" loading="lazy">'
        ) in html
        assert f'<a href="../m/{leaflet.digest}.pdf">leaflet.pdf</a>' in html
        assert "img-src 'self'" in page.headers["Content-Security-Policy"]
        for m in (photo, leaflet):
            got = await get(f"{bot.url}/m/{m.digest}.{m.path.suffix[1:]}")
            assert got.status == 200
            assert got.headers["Content-Type"] == m.mime
            assert got.body == m.read()
            for secret in samples.SECRETS:
                assert secret.encode() not in got.body
        feed = (await get(bot.url + "/feed.xml")).text
        enclosures = re.findall(r'<link[^>]*rel="enclosure"[^>]*/>', feed)
        assert len(enclosures) == 2
        assert f"/m/{photo.digest}.jpg" in enclosures[0] and 'type="image/jpeg"' in enclosures[0]
        assert f'length="{leaflet.size}"' in enclosures[1]
        # Nothing else from the cache folder, nor an unknown digest, is served.
        assert (await get(f"{bot.url}/m/{'0' * 64}.jpg")).status == 404
        assert (await get(f"{bot.url}/m/..%2F..%2Fbot.db")).status == 404


async def test_a_withdrawn_updates_files_are_not_served(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    write_update(folder, "gate.md", FRONT + 'withdrawn: "wrong gate"', "We stand at gate 7.")
    async with running_web(web_config(tmp_path)) as bot:
        (photo,) = [m for m in bot.app.catalog.withdrawn["gate"].media if m.mime == "image/jpeg"]
        assert (await get(f"{bot.url}/m/{photo.digest}.jpg")).status == 404


def test_the_mirror_copies_the_stripped_files(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    catalog = Catalog(folder, ZoneInfo("UTC"), "en", media_files=MediaFiles(tmp_path / "c"))
    site = Site(catalog.load(), "en", "https://news.example.org")
    out = tmp_path / "public"
    publish(site, out, NOW)
    photo, leaflet = catalog.items["gate"].media
    assert (out / f"m/{photo.digest}.jpg").read_bytes() == photo.read()
    assert (out / f"m/{leaflet.digest}.pdf").read_bytes() == leaflet.read()
    # A second run takes over its own folder, media included.
    publish(site, out, NOW)
    assert (out / f"m/{photo.digest}.jpg").is_file()
