"""Picket reminders as pure decisions: which exist, when each is due, what it says.

A reminder is (picket, offset, start): it fires at `starts − offset`, counted in
absolute time (UTC), so a `1d` reminder is 24 hours before even across a
daylight-saving change. Its message key carries the start instant
(`reminder:<picket>:<offset>@<UTC start>`), so a picket moved to another time
gets new reminders while the old keys stay recorded as sent (bot/keys.py
builds and reads every key).

`due` decides what to fan out now, given what the database says was already
sent and when the bot first knew of each start: at most one reminder per
picket (the latest whose moment has come), never after the picket started,
never one whose moment passed before the bot knew of that start, and marked
late when its moment is more than `GRACE` ago (the bot was down).
The texts are composed here too, at send time, so "in N hours" is true when
the message leaves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.content.items import Item, Kind
from bot.i18n import Texts
from bot.keys import MessageKey, RowKind, Variant
from bot.keys import stamp as stamp  # the tests read keys' stamps here
from bot.render.compose import places_list

# A reminder sent later than this after its moment says it is late.
GRACE = timedelta(minutes=5)


def start_key(picket_id: str, starts: datetime) -> str:
    """One start of one picket, `<picket>@<UTC start>`: the state key of when
    the bot first saw it (not a message key)."""
    return f"{picket_id}@{stamp(starts)}"


def key_start(message_key: str) -> datetime | None:
    """The picket start a stored reminder or notice key was made for (None
    for a string that is not such a key: it fits no start)."""
    try:
        return MessageKey.parse(message_key).moment
    except ValueError:
        return None


@dataclass(frozen=True)
class Reminder:
    picket_id: str
    offset: timedelta
    starts: datetime  # UTC
    # Nothing is reminded of before the picket was announced (its publish_at/date).
    not_before: datetime

    @property
    def fire_at(self) -> datetime:
        return self.starts - self.offset

    @property
    def start_key(self) -> str:
        return start_key(self.picket_id, self.starts)

    @property
    def message_key(self) -> MessageKey:
        return MessageKey.reminder(self.picket_id, self.offset, self.starts)

    @property
    def key(self) -> str:
        """The stored key, also the scheduler's job id."""
        return str(self.message_key)


@dataclass(frozen=True)
class Due:
    reminder: Reminder
    late: bool

    @property
    def variant(self) -> Variant:
        return Variant.LATE_REMINDER if self.late else Variant.REMINDER


def offsets_of(item: Item, default: Sequence[timedelta]) -> list[timedelta]:
    """The picket's own offsets, else the configured default; longest first."""
    chosen = item.remind if item.remind is not None else tuple(default)
    return sorted({o for o in chosen if o > timedelta(0)}, reverse=True)


def plan(items: Iterable[Item], default: Sequence[timedelta]) -> list[Reminder]:
    """Every reminder of every picket, in firing order."""
    found = []
    for item in items:
        if item.kind is not Kind.PICKET or item.starts is None:
            continue
        starts = item.starts.astimezone(UTC)
        announced = item.published_at.astimezone(UTC)
        found += [
            Reminder(item.id, offset, starts, announced) for offset in offsets_of(item, default)
        ]
    return sorted(found, key=lambda r: (r.fire_at, r.picket_id))


def due(
    reminders: Iterable[Reminder],
    now: datetime,
    sent: set[str],
    known_since: Mapping[str, datetime],
    grace: timedelta = GRACE,
) -> list[Due]:
    """What to fan out at `now`: per picket start, the latest reminder whose moment came.

    Earlier ones are superseded: after downtime across two reminders only the
    nearer one goes out (late), not both. A start with no `known_since` entry
    is skipped until the caller has recorded when it first saw it.
    """
    latest: dict[str, Reminder] = {}
    for r in reminders:
        seen = known_since.get(r.start_key)
        if seen is None or not (r.fire_at <= now < r.starts):
            continue
        if r.fire_at < max(seen, r.not_before):
            continue
        best = latest.get(r.start_key)
        if best is None or r.fire_at > best.fire_at:
            latest[r.start_key] = r
    return [
        Due(r, late=now - r.fire_at > grace)
        for r in sorted(latest.values(), key=lambda r: (r.fire_at, r.picket_id))
        if r.key not in sent
    ]


def upcoming_jobs(reminders: Iterable[Reminder], now: datetime) -> dict[str, datetime]:
    """Job id (the message key) → moment, for reminders still ahead."""
    return {r.key: r.fire_at for r in reminders if now < r.fire_at < r.starts}


def moved_chats(
    reminded: Iterable[tuple[str, str, str]], current: datetime
) -> list[tuple[str, str]]:
    """Chats reminded of another start than `current`, from (key, platform, chat) rows."""
    chats = {(p, c) for key, p, c in reminded if not _made_for(key, current)}
    return sorted(chats)


def reminders_of(picket_id: str) -> str:
    """What the keys of every reminder of a picket start with (a prefix scan)."""
    return MessageKey.prefix(RowKind.REMINDER, picket_id)


def changed_key(picket_id: str, starts: datetime) -> MessageKey:
    return MessageKey.moved(picket_id, starts)


def is_current(item: Item, message_key: str, now: datetime) -> bool:
    """A queued reminder/notice still fits: same start, and it has not begun."""
    return item.starts is not None and _made_for(message_key, item.starts) and now < item.starts


def _made_for(message_key: str, starts: datetime) -> bool:
    """Whether a key names this start (to the second, as keys do)."""
    return key_start(message_key) == starts.astimezone(UTC).replace(microsecond=0)


def reminder_text(item: Item, t: Texts, now: datetime, *, late: bool) -> str:
    assert item.starts is not None
    parts = [
        "**" + t.md("Reminder: {title}", title=item.title) + "**",
        t.md(
            "Starts {when}: {moment}.",
            when=t.until(item.starts - now),
            moment=t.moment(item.starts),
        ),
    ]
    if late:
        parts.append(
            "_" + t.md("This reminder is late: the bot was offline when it was due.") + "_"
        )
    parts.append(places_list(item, t, now))
    return "\n\n".join(p for p in parts if p)


def changed_text(item: Item, t: Texts, now: datetime) -> str:
    assert item.starts is not None
    parts = [
        "**" + t.md("Date changed: {title}", title=item.title) + "**",
        t.md(
            "The picket you were reminded of has moved. It now starts {when}: {moment}.",
            when=t.until(item.starts - now),
            moment=t.moment(item.starts),
        ),
        places_list(item, t, now),
    ]
    return "\n\n".join(p for p in parts if p)
