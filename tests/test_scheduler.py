"""The scheduler inside a running App: a moved clock, restarts, downtime, edited pickets.

The recording adapter stands in for a platform; the clock is a FakeClock that
tests move, then they call `run_due` as a firing job would (the jobs' run
times are checked against the same instants). Nothing sleeps through real time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.base import ChatKind, Incoming
from bot.app import App
from bot.clock import FakeClock
from bot.config import Config
from bot.pickets.scheduler import PicketScheduler
from bot.store import Store
from tests.conftest import make_config, write_update
from tests.recording import RecordingAdapter, plain

CHATS = ("100", "200")


def texts(recorder: RecordingAdapter, starting: str) -> list[tuple[str, str]]:
    """(chat, plain text) of the messages sent whose text starts with `starting`."""
    found = [(chat, plain(message.markdown)) for chat, message in recorder.sent]
    return [(chat, text) for chat, text in found if text.startswith(starting)]


def reminders(recorder: RecordingAdapter) -> list[tuple[str, str]]:
    return texts(recorder, "Reminder:")


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def config_for(tmp_path: Path, zone: str = "UTC", chats: tuple[str, ...] = CHATS) -> Config:
    return make_config(
        tmp_path,
        timezone=zone,
        destinations=[{"platform": "telegram", "chat": c} for c in chats],
    )


def write_picket(
    tmp_path: Path,
    starts: str,
    remind: str = "[1d, 3h]",
    places: str = "{city: Berlin, where: Embassy, time: '12:00', timezone: Europe/Berlin}",
    written: str = "2027-01-10",
) -> None:
    write_update(
        tmp_path / "updates",
        "day.md",
        f"""
        kind: picket
        title: Day of pickets
        date: {written}
        starts: {starts}
        places:
          - {places}
        remind: {remind}
        """,
    )


@asynccontextmanager
async def running(config: Config, clock: FakeClock) -> AsyncIterator[tuple[App, RecordingAdapter]]:
    recorder = RecordingAdapter()
    app = App(config, clock=clock, adapters=[recorder], watch=False)
    await app.start()
    try:
        yield app, recorder
    finally:
        await app.stop()


def scheduler_of(app: App) -> PicketScheduler:
    assert app.scheduler is not None
    return app.scheduler


async def fire(app: App) -> None:
    """What a job does when it fires, then let the workers deliver."""
    await scheduler_of(app).run_due()
    assert await app.drain(timeout=10)


@pytest.mark.parametrize(
    ("zone", "starts", "place", "first", "second", "local"),
    [
        (
            "Europe/Berlin",
            "2027-03-28T12:00:00",
            "{city: Berlin, where: Botschaft, time: '12:00', timezone: Europe/Berlin}",
            utc(2027, 3, 27, 10),
            utc(2027, 3, 28, 7),
            "Sun, March 28, 2027, 12:00 (UTC+02:00)",
        ),
        (
            "America/New_York",
            "2027-03-14T12:00:00",
            "{city: New York, where: Consulate, time: '12:00', timezone: America/New_York}",
            utc(2027, 3, 13, 16),
            utc(2027, 3, 14, 13),
            "Sun, March 14, 2027, 12:00 (UTC-04:00)",
        ),
        (
            "Pacific/Auckland",
            "2027-04-04T12:00:00",
            "{city: Auckland, where: Aotea Square, time: '12:00', timezone: Pacific/Auckland}",
            utc(2027, 4, 3, 0),
            utc(2027, 4, 3, 21),
            "Sun, April 4, 2027, 12:00 (UTC+12:00)",
        ),
        (
            "Asia/Almaty",
            "2027-03-28T12:00:00",
            "{city: Almaty, where: Akimat, time: '12:00', timezone: Asia/Almaty}",
            utc(2027, 3, 27, 7),
            utc(2027, 3, 28, 4),
            "Sun, March 28, 2027, 12:00 (UTC+05:00)",
        ),
    ],
)
async def test_reminders_fire_at_the_right_utc_instants_around_dst(
    tmp_path: Path,
    zone: str,
    starts: str,
    place: str,
    first: datetime,
    second: datetime,
    local: str,
) -> None:
    # `starts` has no offset: it is in the config's zone, where the clocks change.
    write_picket(tmp_path, starts, "[1d, 3h]", place)
    clock = FakeClock(first - timedelta(days=2))
    async with running(config_for(tmp_path, zone), clock) as (app, recorder):
        assert sorted(scheduler_of(app).jobs().values()) == [first, second]
        for moment in (first, second):
            clock.set(moment - timedelta(seconds=1))
            await fire(app)
            before = len(reminders(recorder))
            clock.set(moment)
            await fire(app)
            assert len(reminders(recorder)) == before + len(CHATS)
        texts = [text for _, text in reminders(recorder)]
        assert "Starts in 24 hours" in texts[0]
        assert "Starts in 3 hours" in texts[-1]
        assert all(local in t and "reminder is late" not in t for t in texts)


async def test_a_restart_in_the_middle_sends_each_reminder_once(tmp_path: Path) -> None:
    write_picket(tmp_path, "2027-03-06T12:00:00+05:00")
    config = config_for(tmp_path)
    clock = FakeClock(utc(2027, 3, 1))
    async with running(config, clock) as (app, recorder):
        clock.set(utc(2027, 3, 5, 7))
        await fire(app)
        assert len(reminders(recorder)) == 2
    clock.advance(timedelta(minutes=1))
    async with running(config, clock) as (app, recorder):
        await fire(app)
        assert reminders(recorder) == []
        clock.set(utc(2027, 3, 6, 4))
        await fire(app)
        await fire(app)
        assert [chat for chat, _ in reminders(recorder)] == sorted(CHATS)
        assert all("Starts in 3 hours" in text for _, text in reminders(recorder))


async def test_downtime_across_a_reminder_sends_it_late_once(tmp_path: Path) -> None:
    write_picket(tmp_path, "2027-03-06T12:00:00+05:00", remind="[1d]")
    config = config_for(tmp_path)
    clock = FakeClock(utc(2027, 3, 1))
    async with running(config, clock) as (app, recorder):
        assert reminders(recorder) == []
    # Down from 1 March until two hours before the picket: the 1d moment passed.
    clock.set(utc(2027, 3, 6, 5))
    async with running(config, clock) as (app, recorder):
        assert await app.drain(timeout=10)
        texts = reminders(recorder)
        assert [chat for chat, _ in texts] == sorted(CHATS)
        assert all("reminder is late" in text and "Starts in 2 hours" in text for _, text in texts)
    clock.advance(timedelta(minutes=30))
    async with running(config, clock) as (app, recorder):
        await fire(app)
        assert reminders(recorder) == []


async def test_downtime_past_the_start_sends_nothing(tmp_path: Path) -> None:
    write_picket(tmp_path, "2027-03-06T12:00:00+05:00", remind="[1d]")
    config = config_for(tmp_path)
    clock = FakeClock(utc(2027, 3, 1))
    async with running(config, clock):
        pass
    clock.set(utc(2027, 3, 6, 7))
    async with running(config, clock) as (app, recorder):
        await fire(app)
        assert reminders(recorder) == []
        assert scheduler_of(app).jobs() == {}


async def test_a_picket_added_two_days_before_skips_its_7d_reminder(tmp_path: Path) -> None:
    write_picket(tmp_path, "2027-03-06T12:00:00+05:00", remind="[7d, 1d]", written="2027-03-04")
    clock = FakeClock(utc(2027, 3, 4, 7))
    async with running(config_for(tmp_path), clock) as (app, recorder):
        await fire(app)
        assert reminders(recorder) == []
        assert list(scheduler_of(app).jobs().values()) == [utc(2027, 3, 5, 7)]
        clock.set(utc(2027, 3, 5, 7))
        await fire(app)
        assert len(reminders(recorder)) == len(CHATS)
        assert all("reminder is late" not in text for _, text in reminders(recorder))


async def test_editing_the_date_reschedules_and_tells_those_already_reminded(
    tmp_path: Path,
) -> None:
    write_picket(tmp_path, "2027-03-06T12:00:00+05:00")
    config = config_for(tmp_path, chats=("100",))
    clock = FakeClock(utc(2027, 3, 1))
    async with running(config, clock) as (app, recorder):
        clock.set(utc(2027, 3, 5, 7))
        await fire(app)
        assert [chat for chat, _ in reminders(recorder)] == ["100"]
        # A chat that joins after the reminder hears of the new date with the next one.
        await app.store.subscribe("telegram", "300", None, clock.now().timestamp())

        write_picket(tmp_path, "2027-03-13T12:00:00+05:00")
        changes = await app.reload()
        assert changes.changed == ("day",)
        assert await app.drain(timeout=10)
        notices = texts(recorder, "Date changed:")
        assert [chat for chat, _ in notices] == ["100"]
        assert "Berlin: Embassy, Sat, March 13, 2027, 12:00 (UTC+01:00)" in notices[0][1]
        assert "in 8 days" in notices[0][1]
        assert sorted(scheduler_of(app).jobs()) == [
            "reminder:day:1d@20270313T070000Z",
            "reminder:day:3h@20270313T070000Z",
        ]
        # The old day's 3h reminder never goes out; the new day's do, on time.
        clock.set(utc(2027, 3, 6, 4))
        await fire(app)
        assert len(reminders(recorder)) == 1
        clock.set(utc(2027, 3, 12, 7))
        await fire(app)
        new = reminders(recorder)[1:]
        assert sorted(chat for chat, _ in new) == ["100", "300"]
        assert all("Sat, March 13, 2027" in text for _, text in new)
        # Reloading again does not repeat the notice.
        await app.reload()
        write_picket(tmp_path, "2027-03-13T12:00:00+05:00", remind="[1d, 3h, 2h]")
        await app.reload()
        assert await app.drain(timeout=10)
        assert len(texts(recorder, "Date changed:")) == 1


async def test_a_removed_picket_has_its_jobs_cancelled(tmp_path: Path) -> None:
    write_picket(tmp_path, "2027-03-06T12:00:00+05:00")
    clock = FakeClock(utc(2027, 3, 1))
    async with running(config_for(tmp_path), clock) as (app, recorder):
        assert len(scheduler_of(app).jobs()) == 2
        (tmp_path / "updates" / "day.md").unlink()
        await app.reload()
        assert scheduler_of(app).jobs() == {}
        clock.set(utc(2027, 3, 5, 7))
        await fire(app)
        assert reminders(recorder) == []


async def test_pickets_command_lists_each_place_in_local_time(tmp_path: Path) -> None:
    write_picket(
        tmp_path,
        "2027-03-13T12:00:00-05:00",
        places="{city: Auckland, where: Aotea Square, time: '06:00', "
        "timezone: Pacific/Auckland, date: 2027-03-14}",
    )
    clock = FakeClock(utc(2027, 3, 10, 17))
    async with running(config_for(tmp_path), clock) as (app, _):
        answer = await app.on_command(
            Incoming("telegram", "100", ChatKind.PRIVATE, "/pickets", True, False)
        )
        text = plain(answer[0].markdown)
        assert "Day of pickets" in text
        assert "Auckland: Aotea Square, Sun, March 14, 2027, 06:00 (UTC+13:00) (in 3 days)" in text


async def test_store_remembers_reminded_chats_and_first_sightings(store: Store) -> None:
    """On SQLite and PostgreSQL: what the scheduler asks the store for."""
    now = utc(2027, 3, 1).timestamp()
    for chat in ("1", "2", "3"):
        await store.subscribe("telegram", chat, None, now)
    old, new = "reminder:day:1d@20270306T070000Z", "reminder:day:1d@20270313T070000Z"
    assert await store.enqueue(old, "day", "reminder", [], ["telegram"], now) == 3
    await store.enqueue(new, "day", "reminder", [], ["telegram"], now, [("telegram", "3")])
    await store.enqueue("reminder:day_2:1d@x", "day_2", "reminder", [], ["telegram"], now)
    rows = await store.claim("telegram", now, 10, 60)
    sent = {r.id: r for r in rows if r.message_key != old or r.chat_id != "2"}
    await store.mark_sent([(i, "m") for i in sent], now)
    await store.release_leases("telegram")
    found = await store.reminded_chats("day", "reminder:day:")
    assert sorted(found) == [(old, "telegram", "1"), (old, "telegram", "3"), (new, "telegram", "3")]
    assert await store.state_setdefault("reminders:seen:day@x", "first") == "first"
    assert await store.state_setdefault("reminders:seen:day@x", "second") == "first"
