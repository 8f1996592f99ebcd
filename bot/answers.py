"""The bot's own words: every answer a command gives, as Markdown.

Kept apart from the command logic so the texts can be read (and one day
translated) in one place. Values from files or from the chat are escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.compose import address_block, excerpt, local_time, one_line, places_list, until
from bot.items import Item
from bot.render import escape_markdown as esc
from bot.store import Subscription

COMMANDS = [
    ("start", "subscribe this chat to every update"),
    ("subscribe [campaign…]", "receive only these campaigns (none: everything)"),
    ("unsubscribe [campaign…]", "stop these campaigns (none: stop everything)"),
    ("stop", "stop receiving updates"),
    ("latest", "the last few updates"),
    ("appeals", "active appeals"),
    ("address [appeal]", "where to send messages, ready to copy"),
    ("pickets", "upcoming pickets with local times"),
    ("campaigns", "the campaigns you can follow"),
    ("language xx", "receive updates in another language"),
    ("forget", "delete everything stored about this chat"),
    ("help", "this list"),
]


def help_text(extra: Sequence[str] = ()) -> str:
    lines = [f"- /{esc(name)}: {esc(what)}" for name, what in COMMANDS]
    lines += [f"- /{esc(name)}" for name in extra]
    return "**Commands**\n\n" + "\n".join(lines)


def welcome(latest: Item | None, appeals: Sequence[Item]) -> str:
    parts = [
        "**Welcome.** This chat now receives every update of the campaign. "
        "/stop ends it; /forget deletes everything stored about this chat.",
    ]
    if latest is not None:
        parts.append(
            f"**Latest:** {esc(latest.title)} ({latest.date:%-d %b %Y})\n\n{excerpt(latest)}"
        )
    if appeals:
        parts.append(
            "**Active appeals** (send /address to get the addresses):\n\n"
            + "\n".join(f"{one_line(a)}: /address {esc(a.id)}" for a in appeals)
        )
    parts.append("/help lists every command.")
    return "\n\n".join(parts)


def not_a_command() -> str:
    return "I answer commands only. Send /help to see them."


def too_long(name: str) -> str:
    return f"That is more than /{esc(name[:32])} can take. Send /help to see how commands are used."


def unknown_command(name: str) -> str:
    return f"I don't know /{esc(name[:32])}. Send /help to see the commands."


def needs_admin(platform: str) -> str:
    who = "a group admin" if platform == "telegram" else "a moderator (power level 50 or more)"
    return f"Only {who} can change what this chat receives. Anyone can ask /appeals or /address."


def admins_only() -> str:
    return "/status is for the bot's admins."


def unknown_campaigns(unknown: Sequence[str], known: Sequence[str]) -> str:
    names = ", ".join(esc(n[:64]) for n in unknown)
    choice = ", ".join(esc(k) for k in known) or "none yet"
    return f"Unknown campaign: {names}. Campaigns: {choice}."


def subscribed(names: Sequence[str]) -> str:
    return "Subscribed to: " + ", ".join(f"**{esc(n)}**" for n in names) + "."


def unsubscribed(names: Sequence[str], following: Sequence[str]) -> str:
    text = "Unsubscribed from: " + ", ".join(esc(n) for n in names) + "."
    if following:
        return text + " Still following: " + ", ".join(esc(n) for n in following) + "."
    return text + " This chat receives nothing now; /start to subscribe again."


def not_subscribed() -> str:
    return "This chat is not subscribed. Send /start to subscribe."


def stopped() -> str:
    return "Stopped: this chat receives no more updates. /start subscribes again."


def forgotten() -> str:
    return "Done: everything stored about this chat is deleted. /start subscribes again."


def latest(items: Sequence[Item]) -> str:
    if not items:
        return "No updates yet."
    return "**Latest updates**\n\n" + "\n\n".join(f"{one_line(i)}\n\n{excerpt(i)}" for i in items)


def appeals(items: Sequence[Item]) -> str:
    if not items:
        return "There are no active appeals right now."
    lines = [f"{one_line(a)}: /address {esc(a.id)}" for a in items]
    return "**Active appeals**\n\n" + "\n".join(lines)


def addresses(items: Sequence[Item]) -> str:
    if not items:
        return "There are no active appeals right now."
    blocks = []
    for appeal in items:
        blocks.append(
            f"**{esc(appeal.title)}**\n\n" + "\n\n".join(address_block(a) for a in appeal.addresses)
        )
    return "\n\n".join(blocks)


def no_such_appeal(asked: str, items: Sequence[Item]) -> str:
    choice = ", ".join(esc(a.id) for a in items) or "none"
    return f"No active appeal called {esc(asked[:64])}. Appeals: {choice}."


def pickets(items: Sequence[Item], now: datetime) -> str:
    if not items:
        return "No pickets are planned right now."
    blocks = []
    for picket in items:
        assert picket.starts is not None
        when = f"{esc(local_time(picket.starts))}, {until(picket.starts - now)}"
        blocks.append(f"**{esc(picket.title)}**\n\n{when}\n\n{places_list(picket, now)}")
    blocks.append("/calendar sends them as a calendar file.")
    return "\n\n".join(blocks)


def campaigns(known: Sequence[str], sub: Subscription | None) -> str:
    if not known:
        return "No campaigns yet."
    if sub is None or not sub.active:
        mine = "This chat follows none (send /start)."
    elif sub.everything:
        mine = "This chat follows all of them."
    else:
        mine = "This chat follows: " + ", ".join(esc(c) for c in sorted(sub.campaigns)) + "."
    return "**Campaigns**\n\n" + "\n".join(f"- {esc(c)}" for c in known) + f"\n\n{mine}"


def language_usage(languages: Sequence[str]) -> str:
    return "Send /language followed by a code: " + ", ".join(esc(x) for x in languages) + "."


def language_unknown(lang: str, languages: Sequence[str]) -> str:
    return (
        f"No updates in {esc(lang)} yet. Languages: " + ", ".join(esc(x) for x in languages) + "."
    )
