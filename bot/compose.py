"""The bot's messages about items, as platform-neutral Markdown.

An update as broadcast (title, body, addresses ready to copy, places with
local times) and the short forms the commands list. Data from files is
escaped; addresses go in code blocks so a tap copies them whole.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from bot.items import Address, Item, Kind
from bot.render import escape_markdown


def fenced(text: str) -> str:
    """A code block that no line of `text` can close early."""
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}\n{text.rstrip()}\n{fence}"


def address_block(address: Address) -> str:
    lines = [f"**{escape_markdown(address.label)}**"]
    body = "\n".join(x for x in (address.postal, address.email) if x)
    lines.append(fenced(body))
    if address.note:
        lines.append(escape_markdown(address.note))
    return "\n\n".join(lines)


def local_time(moment: datetime) -> str:
    """`Sat 6 Mar 2027, 12:00 (UTC+05:00)` in the moment's own zone."""
    offset = moment.strftime("%z")
    sign, hours, minutes = offset[0], offset[1:3], offset[3:5]
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M} (UTC{sign}{hours}:{minutes})"


def until(delta: timedelta) -> str:
    """`in 3 hours`, rounded to the nearest unit (a 1d reminder sent a second late
    still says 24 hours); days from two days on."""
    seconds = delta.total_seconds()
    if seconds <= 0:
        return "now"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"in {max(minutes, 1)} minute{'s' if minutes > 1 else ''}"
    hours = round(seconds / 3600)
    if hours < 48:
        return f"in {hours} hour{'s' if hours != 1 else ''}"
    return f"in {round(seconds / 86400)} days"


def places_list(item: Item, now: datetime | None = None) -> str:
    """One line per place with its local time and zone; with `now`, how soon it starts."""
    lines = []
    for place, start in item.place_starts():
        line = (
            f"- **{escape_markdown(place.city)}**: {escape_markdown(place.where)}, "
            f"{escape_markdown(local_time(start))}, {escape_markdown(place.timezone)}"
        )
        if now is not None:
            line += f" ({until(start - now)})" if start > now else " (under way)"
        lines.append(line)
    return "\n".join(lines)


def item_message(item: Item, corrected_on: date | None = None) -> str:
    """An update as it is broadcast; with a `correction:`, a line saying what
    was corrected (and when, once the correction has gone out as edits)."""
    parts = [f"**{escape_markdown(item.title)}**", item.body]
    if item.kind is Kind.APPEAL and item.addresses:
        parts += [address_block(a) for a in item.addresses]
        if item.expires:
            parts.append(f"_Until {item.expires:%-d %B %Y}_")
    if item.kind is Kind.PICKET and item.places:
        parts.append(places_list(item))
    if item.correction:
        when = f" {corrected_on:%-d %b %Y}" if corrected_on else ""
        parts.append(f"_Corrected{when}: {escape_markdown(item.correction)}_")
    return "\n\n".join(parts)


def revision(item: Item) -> str:
    """What a reader of this (language's) item sees, as a short digest: the
    same text gives the same revision whatever the file's bytes or YAML."""
    seen = item_message(item) + ("\0protected" if item.protect_content else "")
    return hashlib.blake2b(seen.encode(), digest_size=8).hexdigest()


def correction_notice(item: Item) -> str:
    """The short reply under a corrected message (edits are silent)."""
    return (
        f"**Corrected:** {escape_markdown(item.correction or '')}\n\n"
        f"The message above ({escape_markdown(item.title)}) has been corrected."
    )


def withdrawn_text(item: Item) -> str:
    """What stays where a withdrawn message could not be deleted."""
    reason = f": {escape_markdown(item.withdrawn)}" if item.withdrawn else "."
    return f"_Withdrawn by the organisers{reason}_"


def one_line(item: Item) -> str:
    """`• **Title** (20 Nov 2026)`, for lists."""
    return f"- **{escape_markdown(item.title)}** ({item.date:%-d %b %Y})"


def excerpt(item: Item, limit: int = 200) -> str:
    first = item.body.strip().split("\n\n", 1)[0].replace("\n", " ")
    if len(first) > limit:
        first = first[:limit].rsplit(" ", 1)[0] + " …"
    return first
