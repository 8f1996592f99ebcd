"""The feed, the calendar and the static site: /feed.xml is valid Atom that
feedparser reads, /pickets.ics is what icalendar reads, and `strikewire site`
writes byte for byte what the server serves."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import icalendar

from bot.clock import SystemClock
from bot.config import load_config
from tests.recording import RecordingAdapter
from tests.test_delivery import subprocess_env
from tests.web import NOW, campaign_folder, get, running_web, web_config

ATOM = "{http://www.w3.org/2005/Atom}"


def assert_valid_atom(data: bytes) -> ET.Element:
    """RFC 4287's rules a reader depends on, beyond what feedparser forgives."""
    root = ET.fromstring(data)
    assert root.tag == f"{ATOM}feed"

    def one(parent: ET.Element, name: str) -> ET.Element:
        found = parent.findall(f"{ATOM}{name}")
        assert len(found) == 1, f"{parent.tag} needs exactly one {name}, has {len(found)}"
        return found[0]

    def absolute(iri: str | None) -> None:
        assert iri and urlsplit(iri).scheme in ("http", "https") and urlsplit(iri).netloc, iri

    def stamp(element: ET.Element) -> datetime:
        assert element.text is not None
        when = datetime.fromisoformat(element.text)
        assert when.tzinfo is not None, "Atom dates carry their offset"
        return when

    absolute(one(root, "id").text)
    assert one(root, "title").text
    newest = stamp(one(root, "updated"))
    assert root.findall(f"{ATOM}author"), "a feed without authors needs one on every entry"
    links = {link.get("rel", "alternate"): link.get("href") for link in root.findall(f"{ATOM}link")}
    absolute(links["self"])
    absolute(links["alternate"])
    ids = []
    for entry in root.findall(f"{ATOM}entry"):
        ids.append(one(entry, "id").text)
        absolute(ids[-1])
        assert one(entry, "title").text
        assert stamp(one(entry, "updated")) <= newest
        content = entry.findall(f"{ATOM}content")
        assert content or entry.findall(f"{ATOM}link"), "an entry needs content or a link"
    assert len(ids) == len(set(ids)), "entry ids are unique"
    return root


async def test_feed_is_valid_atom_with_every_published_update(tmp_path: Path) -> None:
    campaign_folder(tmp_path / "updates")
    config = web_config(tmp_path, base_url="https://news.example.org/strike/")
    async with running_web(config) as bot:
        got = await get(bot.url + "/feed.xml")
        assert got.status == 200
        assert got.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
        assert_valid_atom(got.body)
        feed = feedparser.parse(got.body)
        assert not feed.bozo, feed.get("bozo_exception")
        assert feed.version == "atom10"
        published = sorted(
            (i for i in bot.app.catalog.items.values() if i.published_at <= NOW),
            key=lambda i: (i.published_at, i.id),
            reverse=True,
        )
        assert [e.title for e in feed.entries] == [i.title for i in published]
        links = [e.link for e in feed.entries]
        assert links[0] == f"https://news.example.org/strike/u/{published[0].id}.html"
        titles = " ".join(e.title for e in feed.entries)
        assert "A rumour we took back" not in titles
        assert "An appeal not yet public" not in titles
        corrected = next(e for e in feed.entries if e.title == "The court hearing is on Friday")
        assert "Corrected: the hearing is on Friday, not Thursday" in corrected.content[0].value
        appeal = next(e for e in feed.entries if "Metallist strike committee" in e.title)
        assert "Uralsk, ul. Udrinskaya d.1/1 kv. 9" in appeal.content[0].value

        russian = feedparser.parse((await get(bot.url + "/feed.xml?lang=ru")).body)
        assert not russian.bozo
        assert "Забастовка на заводе «Металлист» в Уральске продолжается" in [
            e.title for e in russian.entries
        ]
        assert (await get(bot.url + "/feed.ru.xml")).body == (
            await get(bot.url + "/feed.xml?lang=ru")
        ).body


async def test_a_correction_moves_the_entrys_updated(tmp_path: Path) -> None:
    folder = campaign_folder(tmp_path / "updates")
    async with running_web(web_config(tmp_path)) as bot:
        before = feedparser.parse((await get(bot.url + "/feed.xml")).body)
        entry = next(
            e for e in before.entries if e.title == "The Metallist strike in Uralsk goes on"
        )
        path = folder / "metallist-strike.md"
        text = path.read_text(encoding="utf-8")
        path.write_text(
            text.replace("date: 2026-11-20", 'date: 2026-11-20\ncorrection: "three years"', 1),
            encoding="utf-8",
        )
        later = datetime(2026, 11, 25, 10, tzinfo=UTC).timestamp()
        os.utime(path, (later, later))
        await bot.app.reload()
        after = feedparser.parse((await get(bot.url + "/feed.xml")).body)
        changed = next(e for e in after.entries if e.id == entry.id)
        assert changed.updated_parsed > entry.updated_parsed
        assert changed.updated.startswith("2026-11-25T10:00:00")
        assert "Corrected: three years" in changed.content[0].value


async def test_pickets_ics_has_each_place_in_its_own_time_zone(tmp_path: Path) -> None:
    campaign_folder(tmp_path / "updates")
    async with running_web(web_config(tmp_path)) as bot:
        got = await get(bot.url + "/pickets.ics")
        assert got.status == 200
        assert got.headers["Content-Type"] == "text/calendar; charset=utf-8"
        calendar = icalendar.Calendar.from_ical(got.body)
        events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
        picket = bot.app.catalog.items["conference-pickets"]
        assert len(events) == len(picket.places)
        for index, (place, start) in enumerate(picket.place_starts()):
            event = events[f"conference-pickets-{index}@strikewire"]
            assert event["dtstart"].params["TZID"] == place.timezone
            assert event.decoded("dtstart") == start
        # Asked again later, the same bytes: nothing in it is the time of asking.
        await asyncio.sleep(1.1)
        assert (await get(bot.url + "/pickets.ics")).body == got.body


async def test_site_writes_exactly_what_the_server_serves(tmp_path: Path) -> None:
    campaign_folder(tmp_path / "updates")
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        f"updates_dir: updates\n"
        f"database: {{url: 'sqlite:///{tmp_path / 'bot.db'}'}}\n"
        "timezone: UTC\n"
        "web: {port: 0, public: true, base_url: 'https://news.example.org'}\n",
        encoding="utf-8",
    )
    adapter = RecordingAdapter()
    adapter.link = "https://t.me/strike_news_bot?start="
    out = tmp_path / "mirror"
    async with running_web(load_config(config_file), SystemClock(), adapter) as bot:
        proc = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "site", "-c", str(config_file), "-o", str(out)],
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
        assert proc.stderr.strip() == f"wrote {len(written)} file(s) to {out}"
        assert {"index.html", "index.ru.html", "feed.xml", "pickets.ics", "style.css"} <= set(
            written
        )
        assert "u/metallist-strike.ru.html" in written
        assert not any("taken-back" in name or "embargoed" in name for name in written)
        for name in written:
            if name == "404.html":
                continue  # for static hosts; the server answers 404 with a status
            served = await get(f"{bot.url}/{name}")
            assert served.status == 200, name
            assert served.body == (out / name).read_bytes(), f"{name} differs"
        # The addresses a reader types give the same bytes as the files.
        pairs = {
            "/": "index.html",
            "/?lang=ru": "index.ru.html",
            "/u/metallist-strike": "u/metallist-strike.html",
            "/u/metallist-strike?lang=ru": "u/metallist-strike.ru.html",
            "/feed.xml?lang=de": "feed.de.xml",
        }
        for path, name in pairs.items():
            assert (await get(bot.url + path)).body == (out / name).read_bytes(), path
        # The subscribe link the running bot learnt reached the static page too.
        assert b"https://t.me/strike_news_bot?start=" in (out / "index.html").read_bytes()
        not_found = (out / "404.html").read_text(encoding="utf-8")
        assert "<h1>Page not found</h1>" in not_found


def test_site_without_an_address_says_how_to_give_one(tmp_path: Path) -> None:
    campaign_folder(tmp_path / "updates")
    (tmp_path / "config.yaml").write_text("timezone: UTC\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "site", "-c", str(tmp_path / "config.yaml"), "-o", "x"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "strikewire: the feed needs the address the pages are published at "
        "(set web.base_url in the config, or pass --base-url https://…)"
    )
    assert not (tmp_path / "x").exists()


def test_the_calendar_is_the_same_bytes_in_every_process(tmp_path: Path) -> None:
    # The time zones were written in set order, which changes with the hash seed.
    campaign_folder(tmp_path / "updates")
    (tmp_path / "config.yaml").write_text("timezone: UTC\n", encoding="utf-8")
    outputs = set()
    for seed in ("1", "2", "3", "4"):
        proc = subprocess.run(
            [sys.executable, "-m", "bot", "calendar", "-c", str(tmp_path / "config.yaml")],
            env={**subprocess_env(), "PYTHONHASHSEED": seed},
            capture_output=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
        outputs.add(proc.stdout.split(b"BEGIN:VEVENT")[0])  # the time zones
    assert len(outputs) == 1
