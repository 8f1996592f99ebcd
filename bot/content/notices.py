"""Warnings for update files that are valid but silently do nothing now.

A warning never makes a file invalid: `strikewire check` shows it as
`updates/x.md:4: warning: …` and still exits 0. Two kinds:

- names the folder reader skips although they look meant as updates
  (`UPPER.MD`, `notes.txt`, `draft` without a suffix), and links that lead
  nowhere; hidden files and editor backups stay silent (`ignored_name`);
- updates whose date lies ahead (saying when they will go out) and appeals
  whose `expires` has passed (`time_warnings`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.content.items import Item, Kind
from bot.problems import Problem

# Suffixes of text an organiser may have meant as an update (compared in lower case).
_TEXT_SUFFIXES = frozenset({"md", "markdown", "mdown", "mkd", "txt", "text"})
# Editors' and tools' leftovers: never a warning.
_LEFTOVERS = ("~", ".tmp.md", ".swp", ".swo", ".bak", ".orig", ".rej")


def ignored_name(name: str) -> str | None:
    """Why a file the reader skips deserves a warning, or None to stay silent
    (hidden files, editor backups, and files that are plainly not text, such
    as pictures)."""
    if name.startswith((".", "#", "~")) or name.endswith(_LEFTOVERS):
        return None
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        return f"is not read: update files end in .md (rename it to {name}.md if it is one)"
    if suffix.lower() in _TEXT_SUFFIXES and suffix != "md":
        return f"is not read: update files end in .md (rename it to {stem}.md if it is one)"
    return None


def dangling_link(path: Path) -> str:
    """The warning for a link whose target is gone (or that loops)."""
    try:
        target = str(path.readlink())
    except OSError:
        target = "?"
    return (
        f"is a link to {target}, which does not exist: it is not read "
        "(restore the file or remove the link)"
    )


def _when(moment: datetime, now: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    days = (moment - now).days
    ahead = f"in {days} day(s)" if days >= 1 else "later today"
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({ahead})"


def time_warnings(items: Iterable[Item], now: datetime, zone: ZoneInfo) -> list[Problem]:
    """Updates that will go out later than now, and appeals already expired."""
    found: list[Problem] = []
    today = now.astimezone(zone).date()
    for item in items:
        lines = item.key_lines
        if item.published_at > now:
            when = _when(item.published_at, now, zone)
            if item.publish_at is not None:
                key, message = "publish_at", f"publish_at: the update goes out on {when}, not now"
            else:
                key = "date"
                message = (
                    f"date: {item.date} is in the future: the update goes out on {when}, "
                    "not now (correct the date if it is a typo)"
                )
            found.append(Problem(item.path, lines.get(key, 1), message, warning=True))
        if item.kind is Kind.APPEAL and item.expires is not None and item.expires < today:
            found.append(
                Problem(
                    item.path,
                    lines.get("expires", 1),
                    f"expires: {item.expires} has passed: the appeal is no longer listed "
                    "(give a later date, or remove the file)",
                    warning=True,
                )
            )
    return sorted(found, key=lambda p: (str(p.path), p.line))
