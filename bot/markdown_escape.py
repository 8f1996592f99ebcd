"""`escape_markdown`: a data value made safe to put into composed Markdown.

A leaf: bot/i18n (filling translated templates) and bot/render (composing
answers; it re-exports this) both need it, and neither imports the other
for it.
"""

from __future__ import annotations

import re

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_LEADING_BLANKS = re.compile(r"^[ \t]+", re.MULTILINE)


def escape_markdown(text: str) -> str:
    """Escape a data value (a title, a city, an address line) to show literally in Markdown.

    Every ASCII punctuation character is backslash-escaped, which CommonMark
    allows for all of them. Leading blanks on a line are dropped, since they
    could start a code block; a newline stays a line break.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _PUNCTUATION.sub(r"\\\1", _LEADING_BLANKS.sub("", text))
