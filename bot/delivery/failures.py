"""How the delivery worker tells what went wrong apart, and waits after it.

A database outage (`is_outage`: the driver's connection and operational
errors, OSError) passes: the worker retries with a growing pause, at WARNING.
Anything else is a bug: logged at ERROR with its stack. A row's transient
failure waits by `Backoff`. Log lines name the platform, kind and item, never
a chat, and an error only by its type.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.store import DatabaseError, OutboxRow

# Logged as the worker's own lines (the tests and operators read them there).
log = logging.getLogger("bot.delivery.worker")

# The loop's pause after a failure doubles from its poll up to this (seconds).
OUTAGE_PAUSE_CAP = 30.0


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` says the database (or the network to it) is away, which
    passes, rather than a bug, which does not."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | DatabaseError | OSError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


@dataclass
class Backoff:
    """Waits for transient failures: exponential, capped, with jitter."""

    first: float = 5.0
    cap: float = 3600.0
    max_attempts: int = 12
    jitter: float = 0.2

    def delay(self, attempts: int) -> float:
        base = min(self.cap, self.first * 2 ** max(attempts - 1, 0))
        return float(base * (1 + random.uniform(-self.jitter, self.jitter)))  # noqa: S311 (jitter, not crypto)


def log_failure(what: str, platform: str, exc: Exception) -> None:
    """One line: WARNING for an outage, ERROR with the stack for a bug."""
    if is_outage(exc):
        log.warning(
            "delivery store unavailable platform=%s error=%s; retrying",
            platform,
            type(exc).__name__,
        )
    else:
        log.error(
            "%s failed platform=%s error=%s",
            what,
            platform,
            type(exc).__name__,
            exc_info=exc,
        )


def log_row_crash(stage: str, row: OutboxRow, exc: Exception) -> None:
    """One line for a row whose compose or send failed other than by a
    platform's answer (it is retried)."""
    if is_outage(exc):
        log.warning(
            "delivery %s failed platform=%s kind=%s item=%s error=%s; database away, retrying",
            stage,
            row.platform,
            row.kind,
            row.item_id,
            type(exc).__name__,
        )
    else:
        log.error(
            "delivery %s crashed platform=%s kind=%s item=%s error=%s; retrying later",
            stage,
            row.platform,
            row.kind,
            row.item_id,
            type(exc).__name__,
            exc_info=exc,
        )
