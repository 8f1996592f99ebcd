"""Outbox row kinds and message keys: the one place a key is built or read.

A message key makes an outbox row unique per chat (with its item) and a
fan-out happen once (the `broadcasts` table). The stored strings are these,
unchanged since each kind was added, so keys already in a database read the
same:

    item:<item>                          broadcast of an update
    edit:<item>:<revision>               bring a sent update to `revision`
    notice:<item>:<revision>             the short reply under a correction
    delete:<item>:<row id>               take back the messages of one sent row
    reminder:<picket>:<offset>@<start>   a picket is coming (offset `1d`, start
                                         `20270306T070000Z`, UTC)
    changed:<picket>@<start>             a picket reminded of moved to `start`

Item ids are slugs (`[a-z0-9][a-z0-9_-]*`, bot/content/items.py), revisions
hex digests and offsets `format_duration` text, so none holds `:` or `@`.
This module imports nothing of the bot but `bot.durations`: store, delivery
and pickets all read it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.durations import format_duration, parse_duration

STAMP = "%Y%m%dT%H%M%SZ"


class RowKind(enum.StrEnum):
    """What an outbox row does; each kind has one composer."""

    BROADCAST = "broadcast"  # an update, to a subscriber
    REMINDER = "reminder"  # a picket is coming
    MOVED = "moved"  # a picket the chat was reminded of has a new date
    EDIT = "edit"  # bring a sent update's messages to the current text
    NOTICE = "notice"  # a short reply under a corrected update
    DELETE = "delete"  # take back a withdrawn update's messages


class Variant(enum.StrEnum):
    """A row's `variant` column: which form of its kind's message it gets."""

    PLAIN = ""  # updates and their follow-ups
    REMINDER = "reminder"
    LATE_REMINDER = "reminder:late"  # the bot was down when it was due: says so
    CHANGED = "changed"


# The word a key starts with, per row kind (a broadcast's key says `item`, a
# moved picket's `changed`: older than the row kinds, kept as stored).
PREFIXES: dict[RowKind, str] = {
    RowKind.BROADCAST: "item",
    RowKind.EDIT: "edit",
    RowKind.NOTICE: "notice",
    RowKind.DELETE: "delete",
    RowKind.REMINDER: "reminder",
    RowKind.MOVED: "changed",
}
_KIND_OF = {prefix: kind for kind, prefix in PREFIXES.items()}
# Which optional parts each kind's key has.
_WITH_REVISION = frozenset({RowKind.EDIT, RowKind.NOTICE})
_WITH_MOMENT = frozenset({RowKind.REMINDER, RowKind.MOVED})


def stamp(moment: datetime) -> str:
    """A start instant as it appears in keys: `20270306T070000Z`."""
    return moment.astimezone(UTC).strftime(STAMP)


def _moment(text: str) -> datetime:
    return datetime.strptime(text, STAMP).replace(tzinfo=UTC)


class BadKey(ValueError):
    """A string that is no message key."""


@dataclass(frozen=True)
class MessageKey:
    """One message key, typed. Build it with the class methods below; `str()`
    (or `format`) gives the stored string, `parse` reads one back."""

    kind: RowKind
    item: str
    revision: str | None = None  # edit, notice: the text it brings
    target: int | None = None  # delete: the sent row it takes back
    offset: timedelta | None = None  # reminder: how long before the start
    moment: datetime | None = None  # reminder, changed: the picket's start (UTC)

    @classmethod
    def broadcast(cls, item: str) -> MessageKey:
        return cls(RowKind.BROADCAST, item)

    @classmethod
    def followup(cls, kind: RowKind, item: str, revision: str) -> MessageKey:
        """An edit or a notice bringing `item` to `revision`."""
        if kind not in _WITH_REVISION:
            raise ValueError(f"a {kind} key has no revision")
        return cls(kind, item, revision=revision)

    @classmethod
    def delete(cls, item: str, target: int) -> MessageKey:
        return cls(RowKind.DELETE, item, target=target)

    @classmethod
    def reminder(cls, picket: str, offset: timedelta, starts: datetime) -> MessageKey:
        return cls(RowKind.REMINDER, picket, offset=offset, moment=starts.astimezone(UTC))

    @classmethod
    def moved(cls, picket: str, starts: datetime) -> MessageKey:
        return cls(RowKind.MOVED, picket, moment=starts.astimezone(UTC))

    @staticmethod
    def prefix(kind: RowKind, item: str | None = None) -> str:
        """What every stored key of `kind` (of `item`) starts with, for a
        prefix scan in SQL (`startswith(..., autoescape=True)`). An item's
        broadcast has one key, no prefix: ask for `broadcast(item)`."""
        head = PREFIXES[kind] + ":"
        if item is None:
            return head
        if kind is RowKind.BROADCAST:
            raise ValueError("an item's broadcast has one key: MessageKey.broadcast(item)")
        return f"{head}{item}{'@' if kind is RowKind.MOVED else ':'}"

    def format(self) -> str:
        """The stored string."""
        head = f"{PREFIXES[self.kind]}:{self.item}"
        kind = self.kind
        if kind in _WITH_REVISION:
            return f"{head}:{self.revision}"
        if kind is RowKind.DELETE:
            return f"{head}:{self.target}"
        if kind in _WITH_MOMENT:
            assert self.moment is not None
            if kind is RowKind.REMINDER:
                assert self.offset is not None
                head += ":" + format_duration(self.offset)
            return f"{head}@{stamp(self.moment)}"
        return head

    def __str__(self) -> str:
        return self.format()

    @classmethod
    def parse(cls, text: str) -> MessageKey:
        """A stored key, typed; `BadKey` for a string no version wrote."""
        try:
            return cls._parse(text)
        except ValueError as exc:
            raise BadKey(f"not a message key: {text!r}") from exc

    @classmethod
    def _parse(cls, text: str) -> MessageKey:
        prefix, colon, rest = text.partition(":")
        kind = _KIND_OF.get(prefix)
        if kind is None or not colon or not rest:
            raise ValueError(f"not a message key: {text!r}")
        if kind is RowKind.BROADCAST:
            return cls(kind, rest)
        if kind in _WITH_MOMENT:
            head, at, when = rest.rpartition("@")
            if not at:
                raise ValueError(f"a {kind} key without its start: {text!r}")
            moment = _moment(when)
            if kind is RowKind.MOVED:
                return cls(kind, _part(head, text), moment=moment)
            item, _, offset = head.rpartition(":")
            return cls(kind, _part(item, text), offset=parse_duration(offset), moment=moment)
        item, _, last = rest.rpartition(":")
        if kind is RowKind.DELETE:
            return cls(kind, _part(item, text), target=int(last))
        return cls(kind, _part(item, text), revision=_part(last, text))


def _part(value: str, text: str) -> str:
    if not value:
        raise ValueError(f"a message key with an empty part: {text!r}")
    return value
