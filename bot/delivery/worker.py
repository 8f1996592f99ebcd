"""The delivery worker: drains one platform's due outbox rows through its adapter.

A worker claims (leases) due rows in its own name, up to `adapter.max_in_flight`
rows held at once, and hands each chat's rows, in order, to one task per chat;
the adapter's rate limiter decides when each send actually goes out. While a
row waits for its turn its lease is renewed, so a slow platform (Matrix's
0.2 msg/s, a long `RetryAfter`) never lets a lease run out under a row that
is still coming; a row whose lease was lost to another worker is not sent.

A row's outcome is noted the moment its send returns, into whatever batch is
open then, and batches are written in one transaction each. A row stays held
until its outcome is in the database, so "idle" can be trusted: nothing held,
nothing due, nothing `sending` anywhere. A crash before a batch is written
resends at most the rows of that batch. On stop, in-flight sends get a grace
period, every outcome is written, and rows not sent are given back.

What goes wrong is told apart. A database outage (`is_outage`: the driver's
connection and operational errors, OSError) makes the loop retry with a
pause that doubles up to `OUTAGE_PAUSE_CAP`, at WARNING, keeping what it
holds. Anything else is a bug: it is logged at ERROR with its stack, the rows
waiting here are given back, and the loop goes on serving. A row whose
composer or adapter fails (a bug, or the database away while composing) is
retried like a transient failure, with backoff, and marked failed after
`Backoff.max_attempts`: one bad composer can neither spin nor lose a row
silently, and the chat's later rows and the other chats go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

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
from bot.store import DatabaseError, OutboxRow, Store
from bot.supervisor import Supervisor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Done:
    """What a performed action leaves: the row's message ids and revision, and
    for an edit or a deletion what now stands of the row it acted on."""

    message_ids: list[str]
    revision: str | None = None
    target: tuple[int, str | None, str | None] | None = None


@dataclass(frozen=True)
class Send:
    """Send a new message (an update, a reminder, a notice)."""

    message: Outgoing
    revision: str | None = None

    async def perform(self, adapter: Adapter, chat_id: str) -> Done:
        ids = await adapter.send(chat_id, self.message)
        return Done(ids, self.revision)


@dataclass(frozen=True)
class Edit:
    """Make a sent update's messages show the current text."""

    message: Outgoing
    message_ids: tuple[str, ...]
    revision: str
    target: int

    async def perform(self, adapter: Adapter, chat_id: str) -> Done:
        ids = await adapter.edit(chat_id, self.message_ids, self.message)
        joined = ",".join(ids)
        return Done(ids, self.revision, (self.target, joined, self.revision))


@dataclass(frozen=True)
class TakeBack:
    """Delete a withdrawn update's messages (or, where refused, say it is withdrawn)."""

    message_ids: tuple[str, ...]
    reason: str
    fallback: Outgoing
    target: int

    async def perform(self, adapter: Adapter, chat_id: str) -> Done:
        await adapter.take_back(chat_id, self.message_ids, self.reason, self.fallback)
        return Done([], None, (self.target, None, None))


Action = Send | Edit | TakeBack
# Turns an outbox row into what to do; raises Unsendable when there is nothing.
Composer = Callable[[OutboxRow], Awaitable[Action]]

# The longest a send's outcome waits to be written with others (seconds).
FLUSH_EVERY = 0.05
# How often, while rows flow, claims also look for leases that ran out.
EXPIRED_CHECK_EVERY = 1.0
# The loop's pause after a failure doubles from its poll up to this (seconds).
OUTAGE_PAUSE_CAP = 30.0


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` says the database (or the network to it) is away, which
    passes, rather than a bug, which does not."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | DatabaseError | OSError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class Unsendable(Exception):
    """A row's message no longer exists (its file was removed) or no longer
    applies (a reminder for a picket that moved); `reason` is recorded."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DeliveryCounts(Protocol):
    """Where a worker counts what became of its rows (bot.web.metrics): by
    platform and row kind only, never by chat."""

    def outcome(self, platform: str, kind: str, outcome: str) -> None:
        """`outcome` is "sent", "failed" or "retried"."""

    def retry_after(self, platform: str) -> None:
        """The platform answered a send with "too many requests" (a 429)."""


class _NoCounts:
    def outcome(self, platform: str, kind: str, outcome: str) -> None:
        pass

    def retry_after(self, platform: str) -> None:
        pass


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

    def absorb(self, later: _Outcomes) -> None:
        self.sent += later.sent
        self.retry += later.retry
        self.failed += later.failed
        self.targets += later.targets


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
        counts: DeliveryCounts | None = None,
    ) -> None:
        self.store = store
        self.adapter = adapter
        self.platform = adapter.platform
        self.compose = compose
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.lease = lease
        self.batch = batch
        self.counts: DeliveryCounts = counts or _NoCounts()
        # This worker's name on the rows it claims; random, so it says nothing.
        self.owner = secrets.token_hex(8)
        self._wake = asyncio.Event()
        self._stopping = False
        # Claimed rows whose outcome is not yet in the database, and until
        # when (clock time) their lease is known to be ours.
        self._held: dict[int, float] = {}
        self._queues: dict[str, deque[OutboxRow]] = {}
        self._chat_tasks: dict[str, asyncio.Task[None]] = {}
        # The chat task performing a row right now, and the rows among them
        # whose lease was lost meanwhile (their send is cancelled, not the chat).
        self._sending: dict[int, asyncio.Task[None]] = {}
        self._lost: set[int] = set()
        self._outcomes = _Outcomes()
        self._run_task: asyncio.Task[None] | None = None
        self._next_expired_check = 0.0
        # Set while the run loop's task is between a failure and its restart.
        self._run_down = False
        # Failures of the loop in a row: its pause before the next try grows.
        self._failures = 0

    def wake(self) -> None:
        """New rows may be due, or outcomes wait to be written: look now."""
        self._wake.set()

    def start(self, poll: float = 1.0, tasks: Supervisor | None = None) -> None:
        """Run the loop as a supervised task (restarted should it ever fail)."""
        self._run_task = (tasks or Supervisor()).start(
            f"delivery-{self.platform}",
            lambda: self.run(poll),
            restart=True,
            on_failure=self._run_failed,
        )

    async def _run_failed(self, exc: BaseException) -> None:
        self._run_down = True
        await self._give_back_waiting()

    async def run(self, poll: float = 1.0) -> None:
        self._run_down = False
        loop = asyncio.get_running_loop()
        renew_every = self.lease / 4
        next_renewal = loop.time() + renew_every
        last_flush = 0.0
        while not self._stopping:
            self._wake.clear()
            # Outcomes are written at most every FLUSH_EVERY, so a busy broadcast
            # writes one transaction for many sends, not one per send. A crash
            # repeats at most the sends of that moment.
            wait = last_flush + FLUSH_EVERY - loop.time()
            if len(self._outcomes) and wait > 0:
                await asyncio.sleep(wait)
            try:
                last_flush = loop.time()
                await self._flush()
                if loop.time() >= next_renewal:
                    await self._renew()
                    next_renewal = loop.time() + renew_every
                claimed = await self._claim()
                self._failures = 0
            except Exception as exc:
                await self._loop_failed(exc)
                claimed = False
            if claimed:
                continue
            timeout = max(0.0, min(poll, next_renewal - loop.time()))
            if self._failures:
                timeout = min(OUTAGE_PAUSE_CAP, poll * 2 ** min(self._failures - 1, 16))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    async def _claim(self) -> bool:
        most = self.adapter.max_in_flight
        # Slots are for sends under way: a row whose outcome only waits for the
        # next write does not hold one.
        in_flight = len(self._held) - len(self._outcomes)
        free = min(most - in_flight, self.batch)
        # Claim in batches once a quarter of the slots is free, not a row per
        # freed slot: each claim is a database round trip (and, on Matrix, CPU
        # the homeserver on the same machine could use).
        if free <= 0 or self._stopping or (in_flight and free < max(1, most // 4)):
            return False
        now = self.clock.now().timestamp()
        # Leases run out only when a process died: looked for at most once a
        # second while rows flow, which spares a statement on most claims.
        loop_now = asyncio.get_running_loop().time()
        expired = loop_now >= self._next_expired_check
        rows = await self.store.claim(
            self.platform, now, free, self.lease, self.owner, expired=expired
        )
        if expired:
            self._next_expired_check = loop_now + EXPIRED_CHECK_EVERY
        elif not rows:
            self._next_expired_check = 0.0  # nothing queued: look for run-out leases next
        # A row of ours whose lease ran out (a stalled loop, a clock moved on)
        # may come back: it is already on its way here.
        fresh = [row for row in rows if row.id not in self._held]
        for row in fresh:
            self._held[row.id] = now + self.lease
            queue = self._queues.get(row.chat_id)
            if queue is None:
                queue = self._queues[row.chat_id] = deque()
            queue.append(row)
            if row.chat_id not in self._chat_tasks:
                task = asyncio.create_task(self._send_chat(row.chat_id, queue))
                self._chat_tasks[row.chat_id] = task
        return bool(rows)

    async def _send_chat(self, chat_id: str, queue: deque[OutboxRow]) -> None:
        """Send one chat's rows one after another, in order."""
        try:
            while queue and not self._stopping:
                row = queue.popleft()
                deadline = self._held.get(row.id)
                if deadline is None:
                    continue  # its lease was lost: another worker has it
                if deadline <= self.clock.now().timestamp():
                    self._held.pop(row.id, None)  # past its lease: not ours to send
                    continue
                if row.target_id is not None and row.target_id in self._outcomes.target_ids():
                    # An edit composes from the target's message ids: the
                    # previous edit of this message must be written first.
                    try:
                        await self._flush()
                    except Exception as exc:
                        self._log_failure("delivery write", exc)
                try:
                    await self._send_one(row, queue)
                except Exception as exc:  # the chat's later rows and other chats go on
                    self._row_crashed(row, exc)
                self.wake()
        finally:
            del self._chat_tasks[chat_id]
            if not queue:
                del self._queues[chat_id]

    async def _send_one(self, row: OutboxRow, rest: deque[OutboxRow]) -> None:
        """Perform one row's action and note its outcome when it returns."""
        try:
            action = await self.compose(row)
        except Unsendable as exc:
            self._outcomes.failed.append((row.id, exc.reason))
            self.counts.outcome(self.platform, row.kind, "failed")
            log.info(
                "delivery dropped kind=%s item=%s reason=%s", row.kind, row.item_id, exc.reason
            )
            return
        except Exception as exc:  # a composer's bug, or the database away
            self._row_crashed(row, exc, "compose")
            return
        task = asyncio.current_task()
        assert task is not None  # always run by the chat's task
        self._sending[row.id] = task
        try:
            done = await action.perform(self.adapter, row.chat_id)
        except asyncio.CancelledError:
            if row.id not in self._lost or task.cancelling() > 1:
                raise  # the worker is stopping: the row is given back
            # Its lease was lost while it waited (_renew cancelled this send):
            # not ours to send; the chat's later rows go on.
            task.uncancel()
            self._held.pop(row.id, None)
            return
        except SendError as exc:
            await self._failed(row, rest, exc)
        except Exception as exc:  # a bug in an adapter must not lose the row
            self._row_crashed(row, exc)
        else:
            self._outcomes.sent.append((row.id, ",".join(done.message_ids), done.revision))
            self.counts.outcome(self.platform, row.kind, "sent")
            if done.target is not None:
                self._outcomes.targets.append(done.target)
        finally:
            self._sending.pop(row.id, None)
            self._lost.discard(row.id)

    async def _failed(self, row: OutboxRow, rest: deque[OutboxRow], exc: SendError) -> None:
        out = self._outcomes
        now = self.clock.now().timestamp()
        if isinstance(exc, RetryAfter):
            out.retry.append((row.id, now + exc.seconds, exc.kind))
            self.counts.retry_after(self.platform)
            self.counts.outcome(self.platform, row.kind, "retried")
        elif isinstance(exc, ChatGone):
            out.failed.append((row.id, exc.kind))
            out.failed += [(later.id, "chat-gone") for later in rest]
            for gone in (row, *rest):
                self.counts.outcome(self.platform, gone.kind, "failed")
            rest.clear()
            await self.store.stop(self.platform, row.chat_id, error_kind=exc.kind)
            log.info("chat gone platform=%s item=%s; unsubscribed", self.platform, row.item_id)
        elif isinstance(exc, ChatMoved):
            # The move requeues this row and the chat's later ones at the new id.
            await self.store.move_chat(self.platform, row.chat_id, exc.new_chat_id)
            for moved in (row, *rest):
                self._held.pop(moved.id, None)
                self.counts.outcome(self.platform, moved.kind, "retried")
            rest.clear()
            log.info(
                "chat moved platform=%s item=%s; requeued at the new id", self.platform, row.item_id
            )
        elif isinstance(exc, Rejected):
            out.failed.append((row.id, exc.kind))
            self.counts.outcome(self.platform, row.kind, "failed")
            log.warning(
                "delivery rejected platform=%s item=%s reason=%s",
                self.platform,
                row.item_id,
                exc.reason[:120],
            )
        else:
            self._retry_later(row, exc.kind)

    def _row_crashed(self, row: OutboxRow, exc: Exception, stage: str = "send") -> None:
        """A row whose handling failed other than by a platform's answer: one
        log line, then retried with backoff (failed after the last attempt),
        unless its outcome was noted already."""
        if row.id not in self._held or row.id in set(self._outcomes.row_ids()):
            return
        if is_outage(exc):
            log.warning(
                "delivery %s failed platform=%s kind=%s item=%s error=%s; database away, retrying",
                stage,
                self.platform,
                row.kind,
                row.item_id,
                type(exc).__name__,
            )
        else:
            log.error(
                "delivery %s crashed platform=%s kind=%s item=%s error=%s; retrying later",
                stage,
                self.platform,
                row.kind,
                row.item_id,
                type(exc).__name__,
                exc_info=exc,
            )
        self._retry_later(row, f"{stage}-error")

    def _retry_later(self, row: OutboxRow, kind: str) -> None:
        attempts = row.attempts + 1
        if attempts >= self.backoff.max_attempts:
            self._outcomes.failed.append((row.id, kind))
            self.counts.outcome(self.platform, row.kind, "failed")
            log.warning(
                "delivery gave up platform=%s item=%s after=%d attempts",
                self.platform,
                row.item_id,
                attempts,
            )
        else:
            due = self.clock.now().timestamp() + self.backoff.delay(attempts)
            self._outcomes.retry.append((row.id, due, kind))
            self.counts.outcome(self.platform, row.kind, "retried")

    async def _flush(self) -> None:
        """Write the outcomes noted so far; on failure keep them for the next try."""
        if not len(self._outcomes):
            return
        out, self._outcomes = self._outcomes, _Outcomes()
        try:
            await self.store.record(
                sent=out.sent,
                retry=out.retry,
                failed=out.failed,
                targets=out.targets,
                now=self.clock.now().timestamp(),
                owner=self.owner,
            )
        except BaseException:
            out.absorb(self._outcomes)
            self._outcomes = out
            raise
        for row_id in out.row_ids():
            self._held.pop(row_id, None)

    def _log_failure(self, what: str, exc: Exception) -> None:
        """One line: WARNING for an outage, ERROR with the stack for a bug."""
        if is_outage(exc):
            log.warning(
                "delivery store unavailable platform=%s error=%s; retrying",
                self.platform,
                type(exc).__name__,
            )
        else:
            log.error(
                "%s failed platform=%s error=%s",
                what,
                self.platform,
                type(exc).__name__,
                exc_info=exc,
            )

    async def _loop_failed(self, exc: Exception) -> None:
        """The loop's step failed: an outage waits and retries with what it
        holds; a bug is logged loudly and the rows waiting here are given back."""
        self._failures += 1
        self._log_failure("delivery loop", exc)
        if not is_outage(exc):
            await self._give_back_waiting()

    async def _give_back_waiting(self) -> None:
        """Return the rows claimed here that no send has started on (not in
        flight, no outcome noted) to the queue, due at once."""
        # Taken out of the chats' queues first, so no send starts on a row
        # while it is being given back.
        waiting = [row.id for queue in self._queues.values() for row in queue]
        if not waiting:
            return
        for queue in self._queues.values():
            queue.clear()
        for row_id in waiting:
            # Not renewed any more: should the give-back fail, the rows come
            # back when their lease runs out.
            self._held.pop(row_id, None)
        try:
            returned = await self.store.give_back(self.owner, waiting)
        except Exception as exc:
            self._log_failure("delivery give-back", exc)
            return
        log.warning("delivery gave back platform=%s rows=%d", self.platform, returned)

    async def _renew(self) -> None:
        """Extend the leases of rows still waiting; drop the ones that were lost."""
        done = set(self._outcomes.row_ids())
        waiting = [row_id for row_id in self._held if row_id not in done]
        if not waiting:
            return
        until = self.clock.now().timestamp() + self.lease
        kept = await self.store.renew(self.owner, waiting, until)
        for row_id in waiting:
            if row_id in kept:
                self._held[row_id] = until
                continue
            self._held.pop(row_id, None)
            sending = self._sending.get(row_id)
            if sending is not None:
                self._lost.add(row_id)
                sending.cancel()
        if len(kept) < len(waiting):
            log.warning(
                "delivery leases lost platform=%s rows=%d", self.platform, len(waiting) - len(kept)
            )

    async def idle(self) -> bool:
        """Nothing held here, nothing due now and nothing in flight anywhere."""
        if self._held or len(self._outcomes):
            return False
        return not await self.store.has_work(self.platform, self.clock.now().timestamp())

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; let in-flight sends finish for up to `grace` seconds;
        write every outcome; give back the rows that were not sent."""
        self._stopping = True
        self.wake()
        if self._run_task is not None:
            if self._run_down:
                self._run_task.cancel()  # waiting to restart: nothing to finish
            with contextlib.suppress(asyncio.CancelledError):
                await self._run_task
        tasks = set(self._chat_tasks.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        try:
            await self._flush()
            returned = await self.store.give_back(self.owner, list(self._held))
        except Exception as exc:
            log.warning(
                "delivery stop could not record platform=%s rows=%d error=%s",
                self.platform,
                len(self._held),
                type(exc).__name__,
            )
            return
        if returned:
            log.info("delivery gave back platform=%s rows=%d", self.platform, returned)
        self._held.clear()
        self._queues.clear()
