"""The pickets calendar: an .ics file a standard parser reads back with the right local times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from bot.adapters.base import ChatKind, Incoming
from bot.cli import main
from bot.clock import FakeClock
from bot.content.catalog import Catalog
from bot.pickets.ics import calendar_bytes
from tests.conftest import make_config, write_update
from tests.test_scheduler import running

PICKET = """
kind: picket
title: Day of solidarity pickets
date: 2026-11-22
starts: 2027-03-13T12:00:00-05:00
places:
  - {city: New York, where: Consulate, time: "12:00", timezone: America/New_York}
  - {city: Auckland, where: Aotea Square, time: "06:00", timezone: Pacific/Auckland,
     date: 2027-03-14}
  - {city: Almaty, where: Akimat, time: "22:00", timezone: Asia/Almaty}
  - {city: Berlin, where: Botschaft, time: "18:00", timezone: Europe/Berlin}
"""

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def catalog_in(tmp_path: Path, front: str = PICKET) -> Catalog:
    write_update(tmp_path / "updates", "day.md", front, "Come to the pickets.")
    write_update(
        tmp_path / "updates", "news.md", "kind: news\ntitle: Not a picket\ndate: 2026-11-20"
    )
    return Catalog(tmp_path / "updates", ZoneInfo("UTC")).load()


def events(data: bytes) -> dict[str, icalendar.Component]:
    parsed = icalendar.Calendar.from_ical(data)
    return {str(e["uid"]): e for e in parsed.walk("VEVENT")}


def test_one_event_per_place_in_its_own_zone_round_trips(tmp_path: Path) -> None:
    catalog = catalog_in(tmp_path)
    found = events(calendar_bytes(catalog.items.values(), NOW))
    assert sorted(found) == [f"day-{i}@strikewire" for i in range(4)]
    expected = {
        "day-0@strikewire": ("America/New_York", datetime(2027, 3, 13, 12), "New York"),
        "day-1@strikewire": ("Pacific/Auckland", datetime(2027, 3, 14, 6), "Auckland"),
        "day-2@strikewire": ("Asia/Almaty", datetime(2027, 3, 13, 22), "Almaty"),
        "day-3@strikewire": ("Europe/Berlin", datetime(2027, 3, 13, 18), "Berlin"),
    }
    for uid, (zone, local, city) in expected.items():
        event = found[uid]
        start = event.decoded("dtstart")
        assert event["dtstart"].params["TZID"] == zone
        assert start.replace(tzinfo=None) == local
        # All four are the same instant on both sides of the date line.
        assert start.astimezone(UTC) == datetime(2027, 3, 13, 17, tzinfo=UTC)
        assert event.decoded("dtend") - start == timedelta(hours=1)
        assert str(event["summary"]) == f"Day of solidarity pickets — {city}"
        assert city in str(event["location"])


def test_vtimezones_alone_give_the_right_offsets(tmp_path: Path) -> None:
    # A client that knows no IANA names relies on the VTIMEZONE blocks.
    parsed = icalendar.Calendar.from_ical(calendar_bytes(catalog_in(tmp_path).items.values(), NOW))
    blocks = [tz for tz in parsed.walk("VTIMEZONE") if isinstance(tz, icalendar.Timezone)]
    zones = {str(tz["tzid"]): tz.to_tz(lookup_tzid=False) for tz in blocks}
    assert set(zones) == {"America/New_York", "Pacific/Auckland", "Asia/Almaty", "Europe/Berlin"}
    offsets = {
        "America/New_York": (datetime(2027, 3, 13, 12), -5),
        "Pacific/Auckland": (datetime(2027, 3, 14, 6), 13),
        "Asia/Almaty": (datetime(2027, 3, 13, 22), 5),
        "Europe/Berlin": (datetime(2027, 3, 13, 18), 1),
    }
    for name, (local, hours) in offsets.items():
        assert local.replace(tzinfo=zones[name]).utcoffset() == timedelta(hours=hours)


def test_uids_stay_the_same_when_the_picket_moves(tmp_path: Path) -> None:
    before = events(calendar_bytes(catalog_in(tmp_path).items.values(), NOW))
    moved = PICKET.replace("2027-03-13T12:00:00-05:00", "2027-03-20T12:00:00-04:00")
    after = events(calendar_bytes(catalog_in(tmp_path, moved).items.values(), NOW))
    assert sorted(before) == sorted(after)
    assert after["day-0@strikewire"].decoded("dtstart").replace(tzinfo=None) == datetime(
        2027, 3, 20, 12
    )


def test_cli_writes_the_file_and_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog_in(tmp_path)
    (tmp_path / "config.yaml").write_text("updates_dir: updates\ntimezone: UTC\n")
    out = tmp_path / "pickets.ics"
    assert main(["calendar", "-c", str(tmp_path / "config.yaml"), "-o", str(out)]) == 0
    assert "wrote 4 event(s)" in capsys.readouterr().err
    assert len(events(out.read_bytes())) == 4
    assert main(["calendar", "-c", str(tmp_path / "config.yaml")]) == 0
    assert "BEGIN:VCALENDAR" in capsys.readouterr().out


def test_cli_names_an_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog_in(tmp_path)
    (tmp_path / "config.yaml").write_text("updates_dir: updates\n")
    target = tmp_path / "missing" / "pickets.ics"
    assert main(["calendar", "-c", str(tmp_path / "config.yaml"), "-o", str(target)]) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err
    assert "Traceback" not in err


async def test_calendar_command_sends_the_file_as_a_document(tmp_path: Path) -> None:
    catalog_in(tmp_path)
    config = make_config(tmp_path)
    async with running(config, FakeClock(NOW)) as (app, _):
        answer = await app.on_command(
            Incoming("telegram", "100", ChatKind.PRIVATE, "/calendar", True, False)
        )
    assert len(answer) == 1
    attachment = answer[0].attachment
    assert attachment is not None
    assert attachment.filename == "pickets.ics"
    assert attachment.mime_type == "text/calendar"
    assert len(events(attachment.content)) == 4


async def test_calendar_command_without_pickets_says_so(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    async with running(config, FakeClock(NOW)) as (app, _):
        answer = await app.on_command(
            Incoming("telegram", "100", ChatKind.PRIVATE, "/calendar", True, False)
        )
    assert answer[0].attachment is None
    assert "No pickets" in answer[0].markdown
