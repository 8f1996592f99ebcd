"""Durations as people write them in config and update files: 30m, 3h, 1d, 2w."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d{1,12})([smhdw])")
# Far beyond any reminder or retention; larger would overflow a timedelta.
_MAX_SECONDS = 100 * 366 * 86400


def parse_duration(text: str) -> timedelta:
    """`'1d12h'` → 36 hours; raise ValueError with the allowed form otherwise."""
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned or _PART.sub("", cleaned) != "":
        raise ValueError(f"{text!r} is not a duration (use 30m, 3h, 1d)")
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(cleaned))
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a duration (use 30m, 3h, 1d)")
    if seconds > _MAX_SECONDS:
        raise ValueError(f"{text!r} is too long a duration (at most 100 years)")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The short form used in keys and files: 7d, 3h, 90m → '1h30m'."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            count, seconds = divmod(seconds, size)
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
