"""From what an admin sent to the update file it becomes: pure, no I/O.

An admin writes either a whole update file (it starts with `---`) or plain
text: the first line is the title, the rest the body of a `news` item dated
today. A Markdown file sent as a document counts the same. Problems found in
the file are reported at the line of the *message* (or of the document), so
the admin can find them on the phone. Control characters (bot/cleantext.py) are
found in what the admin wrote, at its line and column, so the draft is refused
before any file could carry them; the front matter is read through the one
safe YAML path (bot/content/yamlpos.py), never `yaml.safe_load`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from markdown_it import MarkdownIt

from bot.adapters.base import Document
from bot.cleantext import BadChar, find_bad_chars
from bot.content.loader import MAX_BAD_CHARS, split_front_matter
from bot.content.writer import news_file, with_title_and_body
from bot.content.yamlpos import YamlError, load_yaml_with_lines
from bot.limits import MAX_DOCUMENT_BYTES

_HEADING = re.compile(r"^#{1,6}\s+")
_inline = MarkdownIt("commonmark")


@dataclass(frozen=True)
class Written:
    """An update file made from a message, and where its lines came from."""

    text: str
    title: str
    # File line → the line the admin wrote it on (None: nowhere to point).
    where: Callable[[int], int | None]
    # What the line numbers count: "message" or the document's file name.
    source: str
    # Control characters in what the admin wrote, at the admin's lines.
    bad: tuple[BadChar, ...] = ()


def plain_title(line: str) -> str:
    """A title line as plain text: `**Strike** _now_` → `Strike now`; a
    leading `# ` heading mark is dropped."""
    tokens = _inline.parseInline(_HEADING.sub("", line.strip()))
    words: list[str] = []
    for token in tokens:
        for child in token.children or []:
            if child.type in ("text", "code_inline"):
                words.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                words.append(" ")
    return " ".join("".join(words).split())


def front_matter_title(text: str) -> str:
    """The `title:` of an update file's front matter as YAML reads it (quotes
    and escapes resolved), '' when there is none; the checker reports why."""
    parts = split_front_matter(text)
    try:
        data = load_yaml_with_lines(parts[0])[0] if parts else None
    except YamlError:
        return ""
    title = data.get("title") if isinstance(data, dict) else None
    return title if isinstance(title, str) else ""


def _split(text: str) -> tuple[str, int]:
    """`text` without its leading blank lines, and how many lines were dropped."""
    stripped = text.lstrip()
    return stripped, text[: len(text) - len(stripped)].count("\n")


def from_text(
    text: str,
    first_line: int,
    today: dt.date,
    *,
    source: str = "message",
    editing: str | None = None,
) -> Written | None:
    """The update file for `text`, whose first line is line `first_line` of
    `source`; with `editing` (the current file), plain text replaces only its
    title and body. None when there is nothing to publish."""
    stripped, dropped = _split(text)
    start = first_line + dropped
    if not stripped:
        return None
    bad = tuple(find_bad_chars(text, first_line=first_line, limit=MAX_BAD_CHARS))
    if stripped.startswith("---"):
        whole = stripped if stripped.endswith("\n") else stripped + "\n"
        return Written(whole, front_matter_title(whole), lambda n: start + n - 1, source, bad)
    title_line, _, rest = stripped.partition("\n")
    title = plain_title(title_line)
    body, body_dropped = _split(rest)
    body = body.rstrip()
    body_start = start + 1 + body_dropped
    if editing is None:
        made = news_file(title, body, today)
    else:
        made = with_title_and_body(editing, title, body)
    parts = split_front_matter(made)
    assert parts is not None  # both writers put front matter first
    _front, made_rest, after_fence = parts
    # `made_rest` starts with the newline that ends the closing '---' line.
    made_body = after_fence + len(made_rest) - len(made_rest.lstrip("\n")) - 1

    def where(n: int) -> int | None:
        if n >= made_body:
            return body_start + n - made_body if body else start
        return start  # the front matter came from the title line

    return Written(made, title, where, source, bad)


def from_document(
    document: Document, today: dt.date, *, editing: str | None = None
) -> Written | str | None:
    """The update file in a sent document; a str says why it cannot be read."""
    if document.content is None:
        return "too big" if document.size > MAX_DOCUMENT_BYTES else "not fetched"
    try:
        text = document.content.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return "not UTF-8"
    return from_text(text, 1, today, source=document.filename, editing=editing)
