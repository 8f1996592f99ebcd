"""The pure reminder decisions: instants across DST, keys, due/late/superseded, texts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.content.items import Item, Kind, Place
from bot.i18n import texts
from bot.pickets.reminders import (
    Reminder,
    due,
    is_current,
    moved_chats,
    plan,
    reminder_text,
    stamp,
    upcoming_jobs,
)
from bot.render import to_plain

D1, H3, D7 = timedelta(days=1), timedelta(hours=3), timedelta(days=7)


def picket(
    starts: datetime,
    *,
    places: tuple[Place, ...] = (),
    remind: tuple[timedelta, ...] | None = None,
    written: date = date(2027, 1, 1),
    picket_id: str = "day",
) -> Item:
    return Item(
        id=picket_id,
        kind=Kind.PICKET,
        title="Day of pickets",
        date=written,
        body="Come.",
        path=Path("updates/day.md"),
        lang="en",
        starts=starts,
        places=places,
        remind=remind,
    )


def place(city: str, zone: str, at: str = "12:00", on: date | None = None) -> Place:
    hour, minute = map(int, at.split(":"))
    return Place(city=city, where="Embassy", time=time(hour, minute), timezone=zone, date=on)


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "local_start", "expected"),
    [
        # Berlin springs forward at 01:00 UTC on 28 March 2027: 12:00 CEST is 10:00 UTC,
        # and 24 hours earlier is 10:00 UTC (11:00 CET), not 12:00 CET.
        ("Europe/Berlin", datetime(2027, 3, 28, 12), [utc(2027, 3, 27, 10), utc(2027, 3, 28, 7)]),
        # New York springs forward on 14 March 2027.
        (
            "America/New_York",
            datetime(2027, 3, 14, 12),
            [utc(2027, 3, 13, 16), utc(2027, 3, 14, 13)],
        ),
        # Auckland falls back on 4 April 2027: 12:00 NZST is 00:00 UTC.
        ("Pacific/Auckland", datetime(2027, 4, 4, 12), [utc(2027, 4, 3, 0), utc(2027, 4, 3, 21)]),
        # Almaty has no DST (UTC+5 since 2024).
        ("Asia/Almaty", datetime(2027, 3, 28, 12), [utc(2027, 3, 27, 7), utc(2027, 3, 28, 4)]),
    ],
)
def test_reminders_fire_at_absolute_instants_across_dst(
    zone: str, local_start: datetime, expected: list[datetime]
) -> None:
    item = picket(local_start.replace(tzinfo=ZoneInfo(zone)), remind=(D1, H3))
    fired = [r.fire_at for r in plan([item], [])]
    assert fired == expected
    assert all(f.utcoffset() == timedelta(0) for f in fired)


def test_default_offsets_apply_when_the_file_names_none() -> None:
    item = picket(utc(2027, 3, 6, 7))
    assert [r.offset for r in plan([item], [D7, H3, D1])] == [D7, D1, H3]
    assert [r.offset for r in plan([picket(utc(2027, 3, 6, 7), remind=(H3,))], [D7])] == [H3]


def test_key_carries_the_start_so_a_moved_picket_gets_new_reminders() -> None:
    before = plan([picket(utc(2027, 3, 6, 7), remind=(D1,))], [])[0]
    after = plan([picket(utc(2027, 3, 13, 7), remind=(D1,))], [])[0]
    assert before.key == "reminder:day:1d@20270306T070000Z"
    assert after.key == "reminder:day:1d@20270313T070000Z"


def reminders_for(item: Item) -> tuple[list[Reminder], dict[str, datetime]]:
    planned = plan([item], [])
    return planned, {r.start_key: utc(2027, 1, 1) for r in planned}


def test_due_on_time_then_never_again() -> None:
    planned, seen = reminders_for(picket(utc(2027, 3, 6, 7), remind=(D1, H3)))
    fire = utc(2027, 3, 5, 7)
    assert due(planned, fire - timedelta(seconds=1), set(), seen) == []
    found = due(planned, fire, set(), seen)
    assert [(d.reminder.offset, d.late, d.variant) for d in found] == [(D1, False, "reminder")]
    assert due(planned, fire + timedelta(hours=1), {found[0].reminder.key}, seen) == []


def test_due_late_after_downtime_and_never_after_start() -> None:
    planned, seen = reminders_for(picket(utc(2027, 3, 6, 7), remind=(D1,)))
    found = due(planned, utc(2027, 3, 6, 6), set(), seen)
    assert [(d.late, d.variant) for d in found] == [(True, "reminder:late")]
    assert due(planned, utc(2027, 3, 6, 7), set(), seen) == []
    assert due(planned, utc(2027, 3, 7), set(), seen) == []


def test_downtime_across_two_reminders_sends_only_the_nearer_one() -> None:
    planned, seen = reminders_for(picket(utc(2027, 3, 6, 7), remind=(D7, D1, H3)))
    found = due(planned, utc(2027, 3, 5, 12), set(), seen)
    assert [(d.reminder.offset, d.late) for d in found] == [(D1, True)]
    # Once it is out, the superseded 7d one never follows.
    assert due(planned, utc(2027, 3, 5, 13), {found[0].reminder.key}, seen) == []


def test_offsets_already_past_when_the_picket_was_first_seen_are_skipped() -> None:
    # Added two days before with [7d, 1d]: the 7d one would be meaningless.
    starts = utc(2027, 3, 6, 7)
    planned = plan([picket(starts, remind=(D7, D1), written=date(2027, 3, 4))], [])
    seen = {planned[0].start_key: utc(2027, 3, 4, 7)}
    assert due(planned, utc(2027, 3, 4, 7), set(), seen) == []
    found = due(planned, utc(2027, 3, 5, 7), set(), seen)
    assert [(d.reminder.offset, d.late) for d in found] == [(D1, False)]
    # Not seen yet (no record): nothing until the caller records it.
    assert due(planned, utc(2027, 3, 5, 7), set(), {}) == []


def test_nothing_is_reminded_of_before_the_picket_is_announced() -> None:
    item = picket(utc(2027, 3, 6, 7), remind=(D7, D1), written=date(2027, 3, 3))
    planned = plan([item], [])
    seen = {planned[0].start_key: utc(2027, 1, 1)}
    assert due(planned, utc(2027, 2, 27, 8), set(), seen) == []


def test_jobs_are_only_for_reminders_still_ahead() -> None:
    planned, _ = reminders_for(picket(utc(2027, 3, 6, 7), remind=(D7, D1)))
    assert upcoming_jobs(planned, utc(2027, 3, 1)) == {
        "reminder:day:1d@20270306T070000Z": utc(2027, 3, 5, 7)
    }


def test_only_chats_reminded_of_another_start_hear_of_the_move() -> None:
    rows = [
        ("reminder:day:7d@20270306T070000Z", "telegram", "1"),
        ("reminder:day:1d@20270313T070000Z", "telegram", "2"),
        ("reminder:day:1d@20270306T070000Z", "matrix", "!r:x"),
    ]
    assert moved_chats(rows, utc(2027, 3, 13, 7)) == [("matrix", "!r:x"), ("telegram", "1")]


def test_a_queued_reminder_is_stale_after_a_move_or_the_start() -> None:
    item = picket(utc(2027, 3, 13, 7))
    assert is_current(item, "reminder:day:1d@20270313T070000Z", utc(2027, 3, 12, 7))
    assert not is_current(item, "reminder:day:1d@20270306T070000Z", utc(2027, 3, 5, 7))
    assert not is_current(item, "reminder:day:1d@20270313T070000Z", utc(2027, 3, 13, 7))


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=1, seconds=-2), "in 24 hours"),
        (timedelta(days=7), "in 7 days"),
        (timedelta(hours=3, seconds=-30), "in 3 hours"),
        (timedelta(minutes=59, seconds=40), "in 1 hour"),
        (timedelta(seconds=55), "in 1 minute"),
        (timedelta(minutes=30), "in 30 minutes"),
    ],
)
def test_in_n_days_or_hours(delta: timedelta, text: str) -> None:
    assert texts("en").until(delta) == text


def test_reminder_text_shows_each_place_in_its_own_zone_across_the_date_line() -> None:
    # 12:00 in New York on Saturday is 06:00 in Auckland on Sunday.
    item = picket(
        datetime(2027, 3, 13, 12, tzinfo=ZoneInfo("America/New_York")),
        places=(
            place("New York", "America/New_York"),
            place("Auckland", "Pacific/Auckland", "06:00", date(2027, 3, 14)),
            place("Almaty", "Asia/Almaty", "22:00"),
        ),
    )
    text = "\n".join(to_plain(reminder_text(item, texts("en"), utc(2027, 3, 12, 17), late=False)))
    assert "Reminder: Day of pickets" in text
    assert "Starts in 24 hours" in text
    assert "New York: Embassy, Sat, March 13, 2027, 12:00 (UTC-05:00)" in text
    assert "Auckland: Embassy, Sun, March 14, 2027, 06:00 (UTC+13:00)" in text
    assert "Almaty: Embassy, Sat, March 13, 2027, 22:00 (UTC+05:00)" in text
    assert "reminder is late" not in text
    assert stamp(item.place_starts()[1][1]) == "20270313T170000Z"


def test_a_late_reminder_says_so() -> None:
    item = picket(utc(2027, 3, 6, 7), places=(place("Berlin", "Europe/Berlin"),))
    text = "\n".join(to_plain(reminder_text(item, texts("en"), utc(2027, 3, 6, 5), late=True)))
    assert "Starts in 2 hours" in text
    assert "reminder is late" in text
