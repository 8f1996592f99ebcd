"""The bot's messages about items, as platform-neutral Markdown.

An update as broadcast (title, body, addresses ready to copy, places with
local times) and the short forms the commands list, in the reader's language
(`Texts`). Data from files is escaped; addresses go in code blocks so a tap
copies them whole.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from bot.content.items import Address, Item, Kind
from bot.i18n import Texts, texts
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


def as_read(item: Item, lang: str | None, default: str) -> tuple[Item, Texts]:
    """The item as a reader of `lang` (None: the default language) gets it:
    its translation in that language if there is one, and the bot's words
    for that reader. What is sent and what corrections compare both use it."""
    reader = lang or default
    return item.in_language(reader), texts(reader)


def places_list(item: Item, t: Texts, now: datetime | None = None) -> str:
    """One line per place with its local time and UTC offset; with `now`, how soon."""
    lines = []
    for place, start in item.place_starts():
        line = (
            f"- **{escape_markdown(place.city)}**: {escape_markdown(place.where)}, "
            f"{escape_markdown(t.moment(start))}"
        )
        if now is not None:
            soon = t.until(start - now) if start > now else t._("under way")
            line += f" ({escape_markdown(soon)})"
        lines.append(line)
    return "\n".join(lines)


def untranslated(item: Item, t: Texts) -> str | None:
    """A short line for a reader whose language this update has no translation in."""
    if item.lang == t.lang:
        return None
    return (
        "_" + t.md("No translation in {language} yet; here is the original.", language=t.name) + "_"
    )


def item_message(item: Item, t: Texts, corrected_on: date | None = None) -> str:
    """An update as it is broadcast to a reader of `t`'s language; with a
    `correction:`, a line saying what was corrected (and when, once the
    correction has gone out as edits)."""
    parts = [f"**{escape_markdown(item.title)}**", item.body]
    if item.kind is Kind.APPEAL and item.addresses:
        parts += [address_block(a) for a in item.addresses]
        if item.expires:
            parts.append("_" + t.md("Until {date}", date=t.long_date(item.expires)) + "_")
    if item.kind is Kind.PICKET and item.places:
        parts.append(places_list(item, t))
    if item.correction:
        if corrected_on:
            line = t.md(
                "Corrected {date}: {correction}",
                date=t.long_date(corrected_on),
                correction=item.correction,
            )
        else:
            line = t.md("Corrected: {correction}", correction=item.correction)
        parts.append(f"_{line}_")
    return "\n\n".join(parts)


def revision(item: Item, t: Texts) -> str:
    """What a reader of this (language's) item sees, as a short digest: the
    same text gives the same revision whatever the file's bytes or YAML;
    the media files and their alt texts count too."""
    seen = item_message(item, t) + ("\0protected" if item.protect_content else "")
    # A new picture or alt text is a new revision (the file's bytes by their
    # digest); an update without media keeps the revision it always had.
    seen += "".join(f"\0{m.digest}\0{m.kind}\0{m.alt}" for m in item.media)
    return hashlib.blake2b(seen.encode(), digest_size=8).hexdigest()


def correction_notice(item: Item, t: Texts) -> str:
    """The short reply under a corrected message (edits are silent)."""
    what = t.md("Corrected: {correction}", correction=item.correction or "")
    return f"**{what}**\n\n" + t.md(
        "The message above has been corrected: {title}", title=item.title
    )


def withdrawn_text(item: Item, t: Texts) -> str:
    """What stays where a withdrawn message could not be deleted."""
    if item.withdrawn:
        text = t.md("Withdrawn by the organisers: {reason}", reason=item.withdrawn)
    else:
        text = t.md("Withdrawn by the organisers.")
    return f"_{text}_"


def one_line(item: Item, t: Texts) -> str:
    """`• **Title** (Nov 20, 2026)`, for lists."""
    return f"- **{escape_markdown(item.title)}** ({escape_markdown(t.short_date(item.date))})"


def excerpt(item: Item, limit: int = 200) -> str:
    first = item.body.strip().split("\n\n", 1)[0].replace("\n", " ")
    if len(first) > limit:
        first = first[:limit].rsplit(" ", 1)[0] + " …"
    return first
