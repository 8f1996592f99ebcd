"""Logging: one line per event, `key=value` fields, no message text or user ids.

Libraries that log request URLs (httpx logs the Telegram token in every URL),
SQL parameters (chat ids) or message bodies are held at WARNING, even when
the bot itself logs at DEBUG.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time

QUIET = (
    "aiohttp",
    "aiosqlite",
    "alembic",
    "apscheduler",
    "asyncio",
    "asyncpg",
    "httpcore",
    "httpx",
    "nio",
    "peewee",
    "sqlalchemy",
    "telegram",
    "watchfiles",
)


# Keyed from privacy.key when one is set (`key_pseudonyms`): then a guessed
# chat id cannot be checked against a log; without it, it can.
_pseudonym_key = b""


def key_pseudonyms(key: bytes) -> None:
    """Key the log's pseudonyms (with a key derived from privacy.key)."""
    global _pseudonym_key
    _pseudonym_key = key


def pseudonym(identifier: str) -> str:
    """A short stand-in for a chat or room id in logs: lines about one room can
    be told apart and followed, but the log does not say which room it is."""
    digest = hashlib.blake2b(
        identifier.encode(), digest_size=5, person=b"strikewire", key=_pseudonym_key
    )
    return "#" + digest.hexdigest()


def quiet_libraries() -> None:
    """Hold chatty libraries at WARNING, whatever the bot's own level."""
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter(
        "%(asctime)sZ %(levelname)s %(name)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_libraries()
