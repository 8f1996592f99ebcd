"""Pickets as an iCalendar file: one event per place, in the place's own time zone.

Used by `strikewire calendar` and the `/calendar` command. Each event's start
carries the place's TZID and the file includes the matching VTIMEZONE
definitions, so a calendar shows the right local time wherever it is opened.
UIDs are `<picket>-<place index>@strikewire`: importing the file again after
an edit updates the events instead of duplicating them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import icalendar

from bot.adapters.base import Attachment, Outgoing
from bot.cleantext import clean
from bot.content.items import Item, Kind
from bot.i18n import Texts

# Pickets carry no end time; an hour is what calendars show as a picket.
DURATION = timedelta(hours=1)
FILENAME = "pickets.ics"
MIME_TYPE = "text/calendar"


def picket_events(item: Item, stamp: datetime) -> list[icalendar.Event]:
    events = []
    for index, (place, start) in enumerate(item.place_starts()):
        event = icalendar.Event()
        event.add("uid", f"{item.id}-{index}@strikewire")
        event.add("dtstamp", stamp.astimezone(UTC))
        event.add("dtstart", start)
        event.add("dtend", start + DURATION)
        # No control character reaches a calendar (bot/cleantext.py).
        event.add("summary", clean(f"{item.title} — {place.city}"))
        event.add("location", clean(f"{place.where}, {place.city}"))
        body = clean(item.body).strip()
        if body:
            event.add("description", body)
        events.append(event)
    return events


def pickets(items: Iterable[Item]) -> list[Item]:
    """Every picket with a start, soonest first (past ones too: a calendar keeps history)."""
    found = [i for i in items if i.kind is Kind.PICKET and i.starts is not None]
    return sorted(found, key=lambda i: (i.starts, i.id))


def calendar_bytes(items: Iterable[Item], now: datetime) -> bytes:
    """The `.ics` file for the pickets among `items`."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//strikewire//pickets//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Pickets")
    for item in pickets(items):
        for event in picket_events(item, now):
            cal.add_component(event)
    cal.add_missing_timezones()
    # They come in set order, which changes from process to process: sort them
    # by TZID, so the same pickets give the same bytes (the web face's static
    # mirror is compared byte for byte). Events keep their order.
    cal.subcomponents.sort(
        key=lambda c: (
            c.name != "VTIMEZONE",
            str(c.get("tzid", "")) if c.name == "VTIMEZONE" else "",
        )
    )
    data: bytes = cal.to_ical()
    return data


def calendar_message(items: Iterable[Item], now: datetime, t: Texts) -> Outgoing:
    """The `/calendar` answer: the file as a document, or a line when there is nothing."""
    found = pickets(items)
    if not found:
        return Outgoing(t.md("No pickets are planned right now."))
    places = sum(len(i.places) for i in found)
    return Outgoing(
        t.nmd(
            "The pickets as a calendar file: {count} event, one per place, in local time.",
            "The pickets as a calendar file: {count} events, one per place, in local time.",
            places,
        ),
        attachment=Attachment(FILENAME, calendar_bytes(found, now), MIME_TYPE),
    )
