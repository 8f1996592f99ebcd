"""What became of the rows a worker sent: noted as each send returns, written
in batches, and counted for /metrics.

`Outcomes` is one batch; `OutcomeNotes` holds the open one, counts each
outcome by platform and row kind (never by chat), and decides between a
retry with backoff and a failure after the last attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from bot.delivery.failures import Backoff
from bot.store import OutboxRow

# Logged as the worker's own lines.
log = logging.getLogger("bot.delivery.worker")


class DeliveryCounts(Protocol):
    """Where a worker counts what became of its rows (bot.web.metrics): by
    platform and row kind only, never by chat."""

    def outcome(self, platform: str, kind: str, outcome: str) -> None:
        """`outcome` is "sent", "failed" or "retried"."""

    def retry_after(self, platform: str) -> None:
        """The platform answered a send with "too many requests" (a 429)."""


class NoCounts:
    """Counts nothing (a worker built without metrics)."""

    def outcome(self, platform: str, kind: str, outcome: str) -> None:
        pass

    def retry_after(self, platform: str) -> None:
        pass


@dataclass
class Outcomes:
    """Outcomes noted since the last write."""

    sent: list[tuple[int, str, str | None]] = field(default_factory=list)
    retry: list[tuple[int, float, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    targets: list[tuple[int, str | None, str | None]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sent) + len(self.retry) + len(self.failed)

    def row_ids(self) -> Iterable[int]:
        yield from (i for i, _, _ in self.sent)
        yield from (i for i, _, _ in self.retry)
        yield from (i for i, _ in self.failed)

    def target_ids(self) -> set[int]:
        return {target for target, _, _ in self.targets}

    def absorb(self, later: Outcomes) -> None:
        self.sent += later.sent
        self.retry += later.retry
        self.failed += later.failed
        self.targets += later.targets


class OutcomeNotes:
    """The open batch of one worker's outcomes, counted as they are noted."""

    def __init__(self, platform: str, counts: DeliveryCounts, backoff: Backoff) -> None:
        self.platform = platform
        self.counts = counts
        self.backoff = backoff
        self.batch = Outcomes()

    def __len__(self) -> int:
        return len(self.batch)

    def sent(self, row: OutboxRow, message_ids: list[str], revision: str | None) -> None:
        self.batch.sent.append((row.id, ",".join(message_ids), revision))
        self.counts.outcome(self.platform, row.kind, "sent")

    def failed(self, row: OutboxRow, reason: str) -> None:
        self.batch.failed.append((row.id, reason))
        self.counts.outcome(self.platform, row.kind, "failed")

    def retry(self, row: OutboxRow, due: float, kind: str) -> None:
        self.batch.retry.append((row.id, due, kind))
        self.counts.outcome(self.platform, row.kind, "retried")

    def retry_later(self, row: OutboxRow, kind: str, now: float) -> None:
        """Retry with backoff, or fail the row after its last attempt."""
        attempts = row.attempts + 1
        if attempts >= self.backoff.max_attempts:
            self.failed(row, kind)
            log.warning(
                "delivery gave up platform=%s item=%s after=%d attempts",
                self.platform,
                row.item_id,
                attempts,
            )
        else:
            self.retry(row, now + self.backoff.delay(attempts), kind)

    def take(self) -> Outcomes:
        """The batch to write; a new one opens."""
        out, self.batch = self.batch, Outcomes()
        return out

    def put_back(self, out: Outcomes) -> None:
        """A batch whose write failed: kept, with what was noted since, for the next try."""
        out.absorb(self.batch)
        self.batch = out
