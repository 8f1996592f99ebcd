"""What the fake Bot API server speaks: chats, users, sent messages, and
Telegram's rules for HTML parse mode (which tags, which entities, which
attributes), so a malformed message gets the real "can't parse entities" error.
"""

from __future__ import annotations

import html
import json
import re
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

JSON = dict[str, Any]
GROUP_KINDS = ("group", "supergroup")

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[^>]*)?)>")
_ENTITY = re.compile(r"&(#\d+|#x[0-9A-Fa-f]+|lt|gt|amp|quot);")
_ALLOWED = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
    "tg-time",
}


@lru_cache(maxsize=1024)
def check_html(text: str) -> tuple[str | None, str]:
    """Parse Telegram's HTML subset: (the error Telegram would give or None, the plain text)."""
    # Cached: a broadcast sends one text to every chat, and this server shares
    # the bot's two cores in bench.bench_pipeline (it was half of its CPU).
    plain: list[str] = []
    stack: list[str] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "<":
            match = _TAG.match(text, pos)
            if match is None:
                return f"Unexpected end of name token at byte offset {_offset(text, pos)}", ""
            closing, name = match.group(1), match.group(2).lower()
            if closing:
                if not stack or stack[-1] != name:
                    expected = f'"</{stack[-1]}>"' if stack else "no end tag"
                    return (
                        f"Unmatched end tag at byte offset {_offset(text, pos)}, "
                        f'expected {expected}, found "</{name}>"'
                    ), ""
                stack.pop()
            elif name not in _ALLOWED:
                return f'Unsupported start tag "{name}" at byte offset {_offset(text, pos)}', ""
            else:
                stack.append(name)
            pos = match.end()
        elif char == "&":
            entity = _ENTITY.match(text, pos)
            if entity is None:
                return f"Character entity expected at byte offset {_offset(text, pos)}", ""
            plain.append(html.unescape(entity.group(0)))
            pos = entity.end()
        else:
            plain.append(char)
            pos += 1
    if stack:
        return f'Can\'t find end tag corresponding to start tag "{stack[-1]}"', ""
    return None, "".join(plain)


def _offset(text: str, pos: int) -> int:
    """Telegram counts an error's offset in bytes of UTF-8."""
    return len(text[:pos].encode())


class ApiError(Exception):
    """An error answer: HTTP status, description and optional parameters."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class FakeUser:
    id: int
    first_name: str = "Supporter"
    username: str | None = None
    language_code: str | None = None  # the user's client language, as Telegram sends it

    def json(self) -> JSON:
        out: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            out["username"] = self.username
        if self.language_code:
            out["language_code"] = self.language_code
        return out


@dataclass
class FakeChat:
    id: int
    type: str  # private | group | supergroup | channel
    title: str | None = None
    username: str | None = None
    creator: int | None = None
    admins: set[int] = field(default_factory=set)

    def json(self) -> JSON:
        out: JSON = {"id": self.id, "type": self.type}
        if self.type == "private":
            out["first_name"] = self.title or "Supporter"
        else:
            out["title"] = self.title or f"Chat {self.id}"
        if self.username:
            out["username"] = self.username
        return out


@dataclass(frozen=True)
class SentMessage:
    """One message the server accepted."""

    method: str
    chat_id: int
    message_id: int
    text: str  # as sent (HTML when parse_mode is HTML); a document's caption
    parse_mode: str | None
    protect_content: bool
    allow_paid_broadcast: bool
    at: float  # time.monotonic() when accepted
    document: tuple[str, bytes] | None = None
    reply_to: int | None = None  # the message it answers (reply_parameters)
    file_id: str | None = None  # the photo or document it shows (tests/fake_telegram_media.py)
    media_kind: str | None = None  # photo | document
    media_group: str | None = None  # the album it is part of


class Window:
    """At most `limit` events in any `period` seconds (a strict sliding window)."""

    def __init__(self, limit: float, period: float) -> None:
        self.limit, self.period = limit, period
        self.times: deque[float] = deque()

    def wait_needed(self, now: float, limit: float | None = None) -> float:
        times = self.times
        while times and times[0] <= now - self.period:
            times.popleft()
        cap = self.limit if limit is None else limit
        if len(times) < cap:
            return 0.0
        return times[len(times) - int(cap)] + self.period - now

    def add(self, now: float) -> None:
        self.times.append(now)


def flag(value: Any) -> bool:
    return value is True or value in ("true", "True", "1")


def chat_id_of(value: Any) -> int | str:
    if isinstance(value, int):
        return value
    text = str(value)
    return text if text.startswith("@") else int(text)


def parsed_field(value: Any) -> Any:
    """A form field PTB JSON-encoded (objects, lists); plain strings stay as they are."""
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value
