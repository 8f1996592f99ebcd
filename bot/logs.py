"""Logging: one line per event, `key=value` fields, no message text or user ids.

Libraries that log request URLs (httpx logs the Telegram token in every URL),
SQL parameters (chat ids) or message bodies are held at WARNING, even when
the bot itself logs at DEBUG.

Every line goes through `SafeFormatter`: an exception keeps its stack and
its type but never its message (SQLAlchemy's `[parameters: ...]`, PTB's and
nio's error texts can hold chat, user and room ids); an exception passed as
a value prints as its type; a library's own text, which the bot cannot vet
(nio writes user ids into its warnings), is withheld, keeping its level,
logger and template. Uncaught exceptions are logged the same way instead of
Python's default traceback.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
import time
import traceback
from types import TracebackType
from typing import Any

QUIET = (
    "aiohttp",
    "aiosqlite",
    "alembic",
    "apscheduler",
    "asyncio",
    "asyncpg",
    "httpcore",
    "httpx",
    "markdown_it",
    "nio",
    "peewee",
    "sqlalchemy",
    "telegram",
    "watchfiles",
)


class Pseudonyms:
    """Short stand-ins for chat or room ids in logs: lines about one room can
    be told apart and followed, but the log does not say which room it is.

    Keyed from privacy.key when one is set (`Keyring.logs`, handed to the
    adapters that log rooms): then a guessed chat id cannot be checked
    against a log; without a key, it can."""

    def __init__(self, key: bytes = b"") -> None:
        self._key = key

    def __call__(self, identifier: str) -> str:
        digest = hashlib.blake2b(
            identifier.encode(), digest_size=5, person=b"strikewire", key=self._key
        )
        return "#" + digest.hexdigest()


# Unkeyed, for code given no key (tools, tests); never changed.
PLAIN = Pseudonyms()
pseudonym = PLAIN


def quiet_libraries() -> None:
    """Hold chatty libraries at WARNING, whatever the bot's own level."""
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


# Records from these loggers are the bot's own: their text is written to
# name no one (pseudonyms, counts, kinds), so it is kept.
OWN_LOGGERS = ("bot", "tests", "__main__")
WITHHELD = "(text withheld: it may name a chat)"
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and those it came from, oldest first, as Python prints them."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and not any(current is s for s in seen):
        seen.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    return seen[::-1]


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def exception_text(exc: BaseException, indent: str = "") -> str:
    """A traceback with every frame and each exception's type, and no values:
    no message, no notes, no locals."""
    parts: list[str] = []
    for number, link in enumerate(_chain(exc)):
        if number:
            parts.append("(raised while handling the above)")
        parts.append("Traceback (most recent call last):")
        parts.extend(line.rstrip("\n") for line in traceback.format_tb(link.__traceback__))
        parts.append(_type_name(link) + " (message withheld)")
        if isinstance(link, BaseExceptionGroup):
            for inner in link.exceptions:
                parts.append(exception_text(inner, "  | "))
    return "\n".join(indent + line for part in parts for line in part.splitlines())


class SafeFormatter(logging.Formatter):
    """The one formatter for every log line: UTC times, and no identity in the
    text, the values or the traceback (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)sZ %(levelname)s %(name)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S"
        )
        self.converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        # Another handler's formatter may have cached a traceback with values.
        cached = record.exc_text
        record.exc_text = None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = safe_message(record)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        exc = ei[1]
        return exception_text(exc) if isinstance(exc, BaseException) else ""


def _own(name: str) -> bool:
    return any(name == own or name.startswith(own + ".") for own in OWN_LOGGERS)


def _safe_value(value: object) -> object:
    return _type_name(value) if isinstance(value, BaseException) else value


def safe_message(record: logging.LogRecord) -> str:
    """The record's text as it may be written: exceptions among the values
    print as their type; a library's text only as its template."""
    if not _own(record.name):
        template = record.msg if isinstance(record.msg, str) else ""
        if not record.args or not template:
            return WITHHELD
        return template.splitlines()[0] + " " + WITHHELD
    args = record.args
    if isinstance(args, tuple):
        args = tuple(_safe_value(a) for a in args)
    elif isinstance(args, dict):
        args = {k: _safe_value(v) for k, v in args.items()}
    msg = record.msg if isinstance(record.msg, str) else _safe_value(record.msg)
    text = str(msg)
    if args:
        try:
            text = text % args
        except (TypeError, ValueError):
            text = text + " (values withheld: they did not fit the text)"
    return text


def _log_uncaught(exc_info: ExcInfo) -> None:
    logging.getLogger("bot.crash").critical("uncaught exception", exc_info=exc_info)


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    _log_uncaught((kind, exc, tb))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _log_uncaught((args.exc_type, args.exc_value, args.exc_traceback))


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_libraries()
    # Python's own last words print str(exc): route them through the formatter.
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook
