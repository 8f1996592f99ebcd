"""The flat stream of render units shared by the Markdown walker and the packer.

The walker renders a document once, for every output at the same time: each
unit carries one string per channel (Telegram HTML, Matrix HTML, plain text).
An output picks the channels it needs (Matrix uses two: `body` and
`formatted_body`) and the packer cuts the stream into parts at `Brk` units,
closing and reopening the `Frame`s that are open at a cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Channel indexes into the per-channel string tuples.
TG: Final = 0
MX: Final = 1
PLAIN: Final = 2
CHANNELS: Final = (TG, MX, PLAIN)
ALL: Final = frozenset(CHANNELS)

# Split preference: the packer cuts at the lowest rank that fits, latest first.
BLOCK: Final = 0  # between top-level blocks
NESTED: Final = 1  # between blocks inside a quote or a list
LINE: Final = 2  # a line break, including lines of a code block
SPACE: Final = 3  # between words

Strings = tuple[str, str, str]
EMPTY: Final[Strings] = ("", "", "")


def escape_html(text: str) -> str:
    """Escape text for HTML content: the three characters Telegram requires."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attr(text: str) -> str:
    """Escape text for a double-quoted HTML attribute value."""
    return escape_html(text).replace('"', "&quot;")


@dataclass(frozen=True)
class Frame:
    """Markup that wraps other units and is closed/reopened when a part is cut.

    `slack` reserves room for a later `Retag` that makes `open` longer (an
    `<ol start=…>` continued in the next part).
    """

    open: Strings
    close: Strings
    slack: int = 0


@dataclass(frozen=True)
class Open:
    """Open a frame."""

    frame: Frame


@dataclass(frozen=True)
class Close:
    """Close the innermost open frame."""


@dataclass(frozen=True)
class Retag:
    """Replace the innermost frame's markup used when it is reopened."""

    frame: Frame


@dataclass(frozen=True)
class Text:
    """Visible text, escaped per channel by the packer and cut between words.

    `verbatim` text (code) keeps its spaces: a cut falls after a space rather
    than replacing it.
    """

    raw: str
    channels: frozenset[int] = ALL
    verbatim: bool = False


@dataclass(frozen=True)
class Lit:
    """Pre-rendered strings that are never cut (a list marker, a rule)."""

    strings: Strings


@dataclass(frozen=True)
class Brk:
    """A place where a part may end; `sep` is emitted only when it does not."""

    rank: int
    sep: Strings


Unit = Open | Close | Retag | Text | Lit | Brk
