"""The bot's own words: every answer a command gives, as Markdown, in the
reader's language (`t`, from bot.i18n).

Kept apart from the command logic so the texts can be read in one place.
Translatable texts are plain sentences with `{placeholders}`; the Markdown
around them is added here, and `t.md` shows texts and values literally.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.chat.table import Command, Who
from bot.content.items import Item
from bot.i18n import LANGUAGES, Texts
from bot.platforms import Platform
from bot.render import escape_markdown as esc
from bot.render.compose import address_block, excerpt, one_line, places_list
from bot.store import Subscription


def bold(markdown: str) -> str:
    return f"**{markdown}**"


def help_text(t: Texts, commands: Sequence[Command[Any]]) -> str:
    """The commands this sender may use; the bot admins' in a section of their own."""

    def line(c: Command[Any]) -> str:
        typed = f"/{c.name} {t._(c.args)}" if c.args else f"/{c.name}"
        return f"- {esc(typed)}: {t.md(c.does)}"

    text = (
        bold(t.md("Commands"))
        + "\n\n"
        + "\n".join(line(c) for c in commands if c.who is not Who.ADMINS)
    )
    admin = [line(c) for c in commands if c.who is Who.ADMINS]
    if admin:
        text += "\n\n" + bold(t.md("For the bot's admins")) + "\n\n" + "\n".join(admin)
    return text


def welcome(t: Texts, latest: Item | None, appeals: Sequence[Item]) -> str:
    parts = [
        bold(t.md("Welcome."))
        + " "
        + t.md(
            "This chat now receives every update of the campaign. "
            "/stop ends it; /forget deletes everything stored about this chat."
        ),
    ]
    if latest is not None:
        when = esc(t.short_date(latest.date))
        heading = bold(t.md("Latest:"))
        parts.append(f"{heading} {esc(latest.title)} ({when})\n\n{excerpt(latest)}")
    if appeals:
        parts.append(
            bold(t.md("Active appeals"))
            + " "
            + t.md("(send /address to get the addresses):")
            + "\n\n"
            + "\n".join(f"{one_line(a, t)}: /address {esc(a.id)}" for a in appeals)
        )
    parts.append(t.md("/help lists every command."))
    return "\n\n".join(parts)


def not_a_command(t: Texts) -> str:
    return t.md("I answer commands only. Send /help to see them.")


def too_long(t: Texts, name: str) -> str:
    return t.md(
        "That is more than /{command} can take. Send /help to see how commands are used.",
        command=name[:32],
    )


def unknown_command(t: Texts, name: str) -> str:
    return t.md("I don't know /{command}. Send /help to see the commands.", command=name[:32])


def needs_admin(t: Texts, platform: str) -> str:
    if platform == Platform.TELEGRAM:
        return t.md(
            "Only a group admin can change what this chat receives. "
            "Anyone can ask /appeals or /address."
        )
    return t.md(
        "Only a moderator (power level 50 or more) can change what this chat receives. "
        "Anyone can ask /appeals or /address."
    )


def language_needs_admin(t: Texts, platform: str) -> str:
    if platform == Platform.TELEGRAM:
        return t.md("Only a group admin can change this chat's language.")
    return t.md("Only a moderator (power level 50 or more) can change this chat's language.")


def admins_only(t: Texts, name: str) -> str:
    return t.md("/{command} is for the bot's admins.", command=name)


def private_only(t: Texts, name: str) -> str:
    return t.md("Send /{command} in a private chat with me.", command=name)


def _names(names: Sequence[str]) -> str:
    return ", ".join(n[:64] for n in names)


def unknown_campaigns(t: Texts, unknown: Sequence[str], known: Sequence[str]) -> str:
    if not known:
        return t.md("Unknown campaign: {names}. There are no campaigns yet.", names=_names(unknown))
    return t.md(
        "Unknown campaign: {names}. Campaigns: {known}.",
        names=_names(unknown),
        known=_names(known),
    )


def following(t: Texts, sub: Subscription | None) -> str:
    """What a chat receives now, after /subscribe or /unsubscribe changed it."""
    if sub is None or not sub.active:
        return t.md("This chat receives nothing now; /start to subscribe again.")
    if not sub.everything:
        return t.md("This chat follows only: {names}.", names=_names(sorted(sub.campaigns)))
    if sub.excluded:
        return t.md(
            "This chat follows every campaign except: {names}.",
            names=_names(sorted(sub.excluded)),
        )
    return t.md("This chat follows every campaign.")


def subscribed(t: Texts, names: Sequence[str], sub: Subscription | None) -> str:
    return t.md("Subscribed to: {names}.", names=_names(names)) + " " + following(t, sub)


def unsubscribed(t: Texts, names: Sequence[str], sub: Subscription | None) -> str:
    text = t.md("Unsubscribed from: {names}.", names=_names(names))
    if sub is not None and sub.active and not sub.everything:
        return text + " " + t.md("Still following: {names}.", names=_names(sorted(sub.campaigns)))
    return text + " " + following(t, sub)


def not_subscribed(t: Texts) -> str:
    return t.md("This chat is not subscribed. Send /start to subscribe.")


def channel_only(t: Texts, follow: Sequence[str], *, welcome: bool) -> str:
    """The answer to /start and the other subscription commands when the bot
    keeps no subscribers (privacy.subscriptions: false)."""
    lines = [bold(t.md("Welcome.")) + " " if welcome else ""]
    lines[0] += t.md("This bot keeps no list of subscribers: nothing about this chat is stored.")
    if follow:
        lines.append(t.md("The campaign's news is posted here:"))
        lines += [f"• {esc(place)}" for place in follow]
    lines.append(t.md("Ask here any time: /appeals, /address, /pickets, /calendar."))
    return "\n".join(lines)


def stopped(t: Texts) -> str:
    return t.md("Stopped: this chat receives no more updates. /start subscribes again.")


def forgotten(t: Texts) -> str:
    return t.md("Done: everything stored about this chat is deleted. /start subscribes again.")


def latest(t: Texts, items: Sequence[Item]) -> str:
    if not items:
        return t.md("No updates yet.")
    return (
        bold(t.md("Latest updates"))
        + "\n\n"
        + "\n\n".join(f"{one_line(i, t)}\n\n{excerpt(i)}" for i in items)
    )


def appeals(t: Texts, items: Sequence[Item]) -> str:
    if not items:
        return t.md("There are no active appeals right now.")
    lines = [f"{one_line(a, t)}: /address {esc(a.id)}" for a in items]
    return bold(t.md("Active appeals")) + "\n\n" + "\n".join(lines)


def addresses(t: Texts, items: Sequence[Item]) -> str:
    if not items:
        return t.md("There are no active appeals right now.")
    blocks = []
    for appeal in items:
        blocks.append(
            f"**{esc(appeal.title)}**\n\n" + "\n\n".join(address_block(a) for a in appeal.addresses)
        )
    return "\n\n".join(blocks)


def no_such_appeal(t: Texts, asked: str, items: Sequence[Item]) -> str:
    if not items:
        return t.md("No active appeal called {asked}.", asked=asked[:64])
    return t.md(
        "No active appeal called {asked}. Appeals: {known}.",
        asked=asked[:64],
        known=", ".join(a.id for a in items),
    )


def pickets(t: Texts, items: Sequence[Item], now: datetime) -> str:
    if not items:
        return t.md("No pickets are planned right now.")
    blocks = []
    for picket in items:
        assert picket.starts is not None
        when = esc(f"{t.moment(picket.starts)}, {t.until(picket.starts - now)}")
        blocks.append(f"**{esc(picket.title)}**\n\n{when}\n\n{places_list(picket, t, now)}")
    blocks.append(t.md("/calendar sends them as a calendar file."))
    return "\n\n".join(blocks)


def campaigns(t: Texts, known: Sequence[str], sub: Subscription | None) -> str:
    if not known:
        return t.md("No campaigns yet.")
    if sub is None or not sub.active:
        mine = t.md("This chat follows none (send /start).")
    elif sub.everything and sub.excluded:
        mine = t.md(
            "This chat follows every campaign except: {names}.",
            names=_names(sorted(sub.excluded)),
        )
    elif sub.everything:
        mine = t.md("This chat follows all of them.")
    else:
        mine = t.md("This chat follows: {names}.", names=_names(sorted(sub.campaigns)))
    listed = "\n".join(f"- {esc(c)}" for c in known)
    return bold(t.md("Campaigns")) + f"\n\n{listed}\n\n{mine}"


def languages(t: Texts, current: str) -> str:
    lines = [
        f"- `{code}` {esc(name)}" + (" ✓" if code == current else "")
        for code, name in LANGUAGES.items()
    ]
    return (
        bold(t.md("Languages"))
        + "\n\n"
        + "\n".join(lines)
        + "\n\n"
        + t.md("Send /language and a code, for example /language {code}.", code="de")
    )


def language_unknown(t: Texts, lang: str) -> str:
    return t.md(
        "I don't speak {code}. Languages: {codes}.", code=lang[:16], codes=", ".join(LANGUAGES)
    )


def language_set(t: Texts) -> str:
    """Said in the new language."""
    return t.md(
        "This chat now gets the bot's messages in {language}, and updates too "
        "where they are translated.",
        language=t.name,
    )


def something_went_wrong(t: Texts) -> str:
    return t.md("Sorry, something went wrong on my side. Please try again later.")
