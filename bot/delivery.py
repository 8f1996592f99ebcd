"""The delivery worker: drains one platform's due outbox rows through its adapter.

Rows are claimed (leased) in batches, sent with up to `adapter.max_in_flight`
sends outstanding (the adapter's rate limiter paces them), and marked only
after the send returned. Outcomes are written in batches; a crash before a
batch is written resends at most those rows. Rows for one chat go out in
order, one after another.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.adapters.base import (
    Adapter,
    ChatGone,
    ChatMoved,
    Outgoing,
    Rejected,
    RetryAfter,
    SendError,
)
from bot.clock import Clock
from bot.store import OutboxRow, Store

log = logging.getLogger(__name__)

Composer = Callable[[OutboxRow], Outgoing]


class Unsendable(Exception):
    """A row's message no longer exists (its file was removed) or no longer
    applies (a reminder for a picket that moved); `reason` is recorded."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


@dataclass
class _Outcomes:
    sent: list[tuple[int, str]] = field(default_factory=list)
    retry: list[tuple[int, float, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sent) + len(self.retry) + len(self.failed)


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        adapter: Adapter,
        compose: Composer,
        clock: Clock,
        *,
        backoff: Backoff | None = None,
        lease: float = 300.0,
        batch: int = 500,
    ) -> None:
        self.store = store
        self.adapter = adapter
        self.platform = adapter.platform
        self.compose = compose
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.lease = lease
        self.batch = batch
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy = 0
        self._outcomes = _Outcomes()
        self._run_task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """New rows may be due: look now rather than at the next poll."""
        self._wake.set()

    def start(self, poll: float = 1.0) -> None:
        self._run_task = asyncio.create_task(self.run(poll), name=f"delivery-{self.platform}")

    async def run(self, poll: float = 1.0) -> None:
        while not self._stopping:
            await self._flush()
            free = self.adapter.max_in_flight - self._busy
            rows = []
            if free > 0:
                now = self.clock.now().timestamp()
                rows = [
                    OutboxRow.from_row(r)
                    for r in await self.store.claim(
                        self.platform, now, min(free, self.batch), self.lease
                    )
                ]
            if rows:
                self._start(rows)
                await asyncio.sleep(0)
                continue
            self._wake.clear()
            waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._wake.wait())}
            waiters.update(self._tasks)
            await asyncio.wait(waiters, timeout=poll, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters - set(self._tasks):
                waiter.cancel()

    def _start(self, rows: list[OutboxRow]) -> None:
        by_chat: dict[str, list[OutboxRow]] = defaultdict(list)
        for row in rows:
            by_chat[row.chat_id].append(row)
        for chat_rows in by_chat.values():
            self._busy += len(chat_rows)
            task = asyncio.create_task(self._send_chat(chat_rows))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_chat(self, rows: list[OutboxRow]) -> None:
        try:
            for index, row in enumerate(rows):
                gone = await self._send_one(row)
                self._busy -= 1
                if gone:
                    for rest in rows[index + 1 :]:
                        self._outcomes.failed.append((rest.id, "chat-gone"))
                        self._busy -= 1
                    return
        except asyncio.CancelledError:
            # Unsent rows keep their lease and are sent again after a restart.
            self._busy = max(0, self._busy - len(rows))
            raise

    async def _send_one(self, row: OutboxRow) -> bool:
        """Send one row and record its outcome; True if the chat is gone."""
        out = self._outcomes
        try:
            message = self.compose(row)
        except Unsendable as exc:
            out.failed.append((row.id, exc.reason))
            log.info("delivery dropped item=%s reason=%s", row.item_id, exc.reason)
            return False
        now = self.clock.now().timestamp()
        try:
            ids = await self.adapter.send(row.chat_id, message)
        except RetryAfter as exc:
            out.retry.append((row.id, now + exc.seconds, exc.kind))
        except ChatGone as exc:
            out.failed.append((row.id, exc.kind))
            await self.store.stop(self.platform, row.chat_id, error_kind=exc.kind)
            log.info("chat gone platform=%s item=%s; unsubscribed", self.platform, row.item_id)
            return True
        except ChatMoved as exc:
            await self.store.move_chat(self.platform, row.chat_id, exc.new_chat_id)
            log.info(
                "chat moved platform=%s item=%s; requeued at the new id", self.platform, row.item_id
            )
            self.wake()
        except Rejected as exc:
            out.failed.append((row.id, exc.kind))
            log.warning(
                "delivery rejected platform=%s item=%s reason=%s",
                self.platform,
                row.item_id,
                exc.reason[:120],
            )
        except SendError as exc:
            self._retry_later(row, now, exc.kind)
        except Exception as exc:  # a bug in an adapter must not lose the row
            log.exception(
                "delivery crashed platform=%s item=%s error=%s",
                self.platform,
                row.item_id,
                type(exc).__name__,
            )
            self._retry_later(row, now, "crash")
        else:
            out.sent.append((row.id, ",".join(ids)))
        return False

    def _retry_later(self, row: OutboxRow, now: float, kind: str) -> None:
        attempts = row.attempts + 1
        if attempts >= self.backoff.max_attempts:
            self._outcomes.failed.append((row.id, kind))
            log.warning(
                "delivery gave up platform=%s item=%s after=%d attempts",
                self.platform,
                row.item_id,
                attempts,
            )
        else:
            self._outcomes.retry.append((row.id, now + self.backoff.delay(attempts), kind))

    async def _flush(self) -> None:
        if not len(self._outcomes):
            return
        out, self._outcomes = self._outcomes, _Outcomes()
        now = self.clock.now().timestamp()
        await self.store.mark_sent(out.sent, now)
        await self.store.mark_retry(out.retry)
        await self.store.mark_failed(out.failed, now)

    async def idle(self) -> bool:
        """Nothing in flight and nothing due now."""
        if self._busy or len(self._outcomes):
            return False
        due = await self.store.next_due(self.platform)
        return due is None or due > self.clock.now().timestamp()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; let in-flight sends finish for up to `grace` seconds; record outcomes."""
        self._stopping = True
        self.wake()
        if self._run_task is not None:
            await self._run_task
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        await self._flush()
