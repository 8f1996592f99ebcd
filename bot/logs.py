"""Logging: one line per event, `key=value` fields, no message text or user ids.

Libraries that log request URLs (httpx logs the Telegram token in every URL)
or message bodies are held at WARNING.
"""

from __future__ import annotations

import logging
import sys

QUIET = (
    "httpx",
    "httpcore",
    "telegram",
    "nio",
    "aiohttp",
    "apscheduler",
    "alembic",
    "watchfiles",
    "asyncio",
    "peewee",
)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
