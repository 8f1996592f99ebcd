"""Render the bot's Markdown for each platform, cut into parts that fit one message.

One Markdown text (an update body, a composed answer) becomes Telegram HTML
(`to_telegram`), Matrix `org.matrix.custom.html` with a plain body
(`to_matrix`) or plain text (`to_plain`). Raw HTML in the Markdown arrives as
visible text; only http(s), mailto and tg links become links. Every part is
valid markup on its own and within its platform's limit; long texts are cut at
paragraphs first, then lines, then spaces, and only then inside a word.
`escape_markdown` makes a data value safe to put into composed Markdown.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

from bot.cleantext import clean
from bot.markdown_escape import escape_markdown
from bot.render.pack import Measure, pack
from bot.render.stream import MX, PLAIN, TG
from bot.render.walk import walk

__all__ = [
    "MATRIX_MIN_LIMIT",
    "MIN_LIMIT",
    "MatrixPart",
    "escape_markdown",
    "json_size",
    "to_matrix",
    "to_plain",
    "to_telegram",
    "utf16_len",
]

TELEGRAM_LIMIT: Final = 4096
MATRIX_LIMIT: Final = 32_000
# Below these a part could not hold the widest unbreakable piece next to the
# markup that must be closed and reopened around it.
MIN_LIMIT: Final = 32
MATRIX_MIN_LIMIT: Final = 128

_ENVELOPE: Final = len(json.dumps({"body": "", "formatted_body": ""}))
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class MatrixPart:
    """One Matrix message: the plain-text `body` and its HTML `formatted_body`."""

    body: str
    formatted_body: str


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the way Telegram counts message length."""
    return len(text.encode("utf-16-le")) // 2


def json_size(text: str) -> int:
    """Bytes `text` takes inside `json.dumps` output, quotes excluded.

    Default `json.dumps` escapes non-ASCII, which is never smaller than raw
    UTF-8, so this bounds the size whichever way the event is serialised.
    """
    return len(json.dumps(text)) - 2


def _check_limit(limit: int, minimum: int) -> None:
    if limit < minimum:
        raise ValueError(f"render limit {limit} is too small: use at least {minimum}")


def _render(
    markdown: str, channels: tuple[int, ...], measure: Measure, limit: int | None
) -> list[tuple[str, ...]]:
    # A lone surrogate (from a badly decoded file) cannot be encoded for any
    # platform; other control characters (a form feed pasted from a PDF, an
    # escape sequence) are dropped: no message carries them (bot/cleantext.py).
    markdown = clean(_SURROGATE.sub("\ufffd", markdown))
    if not markdown.strip():
        return []
    return pack(walk(markdown), channels, measure, limit)


def to_telegram(markdown: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Telegram HTML parse-mode parts, each at most `limit` UTF-16 code units."""
    _check_limit(limit, MIN_LIMIT)
    return [part[0] for part in _render(markdown, (TG,), utf16_len, limit)]


def to_matrix(markdown: str, limit_bytes: int = MATRIX_LIMIT) -> list[MatrixPart]:
    """Matrix message parts; each `{"body", "formatted_body"}` JSON is at most `limit_bytes`."""
    _check_limit(limit_bytes, MATRIX_MIN_LIMIT)
    parts = _render(markdown, (PLAIN, MX), json_size, limit_bytes - _ENVELOPE)
    return [MatrixPart(body=body, formatted_body=html) for body, html in parts]


def to_plain(markdown: str, limit: int | None = None) -> list[str]:
    """Readable plain text; cut into parts of at most `limit` characters when given."""
    if limit is not None:
        _check_limit(limit, MIN_LIMIT)
    return [part[0] for part in _render(markdown, (PLAIN,), len, limit)]
