"""Which characters may stand in text the bot writes anywhere.

Update files, `/post` bodies, pages, feeds, calendars and the terminal all
share one rule: tab and newline are the only control characters allowed.
Everything else in C0 (NUL, BEL, ESC, form feed, vertical tab …), DEL, C1,
the non-characters U+FFFE/U+FFFF and lone surrogates is refused where text
comes in (with its line and column) and dropped where text goes out, so a
form feed pasted from a PDF can neither break an XML feed nor move a cursor.
A leaf module: it imports nothing of the bot's, so every layer may use it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# C0 except tab and newline, DEL, C1, U+FFFE/U+FFFF and surrogates (which
# only reach a str through `surrogateescape`/`surrogatepass`).
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")


@dataclass(frozen=True)
class BadChar:
    """One forbidden character: where it stands (1-based) and what it is."""

    line: int
    column: int
    char: str

    @property
    def name(self) -> str:
        """`U+000C (form feed)`-style, readable in a one-line message."""
        code = f"U+{ord(self.char):04X}"
        label = _NAMES.get(self.char) or unicodedata.name(self.char, "")
        return f"{code} ({label.lower()})" if label else code

    def message(self) -> str:
        return (
            f"column {self.column}: the control character {self.name} is not allowed "
            "(delete it; it often comes from text pasted from PDF or Word)"
        )


_NAMES = {
    "\x00": "NUL",
    "\x07": "bell",
    "\x08": "backspace",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\x0d": "carriage return",
    "\x1b": "escape",
    "\x7f": "delete",
}


def find_bad_chars(text: str, *, first_line: int = 1, limit: int = 20) -> list[BadChar]:
    """The forbidden characters in `text`, at most `limit` of them, in order."""
    found: list[BadChar] = []
    for match in _FORBIDDEN.finditer(text):
        start = match.start()
        line = text.count("\n", 0, start) + first_line
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        found.append(BadChar(line, column, match.group()))
        if len(found) >= limit:
            break
    return found


def has_bad_chars(text: str) -> bool:
    return _FORBIDDEN.search(text) is not None


def clean(text: str) -> str:
    """`text` without forbidden characters (a carriage return before a newline
    goes too; a lone one becomes a newline), for anything written out."""
    if not has_bad_chars(text):
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _FORBIDDEN.sub("", text)
