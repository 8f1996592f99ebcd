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

What goes wrong is told apart (bot/delivery/failures.py). A database outage
makes the loop retry with a pause that doubles up to `OUTAGE_PAUSE_CAP`, at
WARNING, keeping what it holds. Anything else is a bug: it is logged at ERROR
with its stack, the rows waiting here are given back, and the loop goes on
serving. A row whose
composer or adapter fails (a bug, or the database away while composing) is
retried like a transient failure, with backoff, and marked failed after
`Backoff.max_attempts`: one bad composer can neither spin nor lose a row
silently, and the chat's later rows and the other chats go on.

The actions a composer returns are in bot/delivery/actions.py, the batch of
outcomes and its counting in bot/delivery/outcomes.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque

from bot.adapters.base import Adapter, SendError
from bot.clock import Clock
from bot.delivery.actions import Action, Composer, Done, Edit, Send, TakeBack, Unsendable
from bot.delivery.failures import (
    OUTAGE_PAUSE_CAP,
    Backoff,
    is_outage,
    log_failure,
    log_row_crash,
)
from bot.delivery.outcomes import DeliveryCounts, NoCounts, OutcomeNotes
from bot.delivery.refusals import platform_refused
from bot.store import OutboxRow, Store
from bot.supervisor import Supervisor

# What the rest of the bot imports from here.
__all__ = [
    "Action",
    "Backoff",
    "Composer",
    "DeliveryCounts",
    "DeliveryWorker",
    "Done",
    "Edit",
    "Send",
    "TakeBack",
    "Unsendable",
    "is_outage",
]

log = logging.getLogger(__name__)

# The longest a send's outcome waits to be written with others (seconds).
FLUSH_EVERY = 0.05
# How often, while rows flow, claims also look for leases that ran out.
EXPIRED_CHECK_EVERY = 1.0


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
        self.counts: DeliveryCounts = counts or NoCounts()
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
        self._outcomes = OutcomeNotes(self.platform, self.counts, self.backoff)
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
                if row.target_id is not None and row.target_id in self._outcomes.batch.target_ids():
                    # An edit composes from the target's message ids: the
                    # previous edit of this message must be written first.
                    try:
                        await self._flush()
                    except Exception as exc:
                        log_failure("delivery write", self.platform, exc)
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
            self._outcomes.failed(row, exc.reason)
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
            now = self.clock.now().timestamp()
            await platform_refused(exc, row, rest, self._outcomes, self.store, self._held, now)
        except Exception as exc:  # a bug in an adapter must not lose the row
            self._row_crashed(row, exc)
        else:
            self._outcomes.sent(row, done.message_ids, done.revision)
            if done.target is not None:
                self._outcomes.batch.targets.append(done.target)
        finally:
            self._sending.pop(row.id, None)
            self._lost.discard(row.id)

    def _row_crashed(self, row: OutboxRow, exc: Exception, stage: str = "send") -> None:
        """A row whose handling failed other than by a platform's answer: one
        log line, then retried with backoff (failed after the last attempt),
        unless its outcome was noted already."""
        if row.id not in self._held or row.id in set(self._outcomes.batch.row_ids()):
            return
        log_row_crash(stage, row, exc)
        self._retry_later(row, f"{stage}-error")

    def _retry_later(self, row: OutboxRow, kind: str) -> None:
        self._outcomes.retry_later(row, kind, self.clock.now().timestamp())

    async def _flush(self) -> None:
        """Write the outcomes noted so far; on failure keep them for the next try."""
        if not len(self._outcomes):
            return
        out = self._outcomes.take()
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
            self._outcomes.put_back(out)
            raise
        for row_id in out.row_ids():
            self._held.pop(row_id, None)

    async def _loop_failed(self, exc: Exception) -> None:
        """The loop's step failed: an outage waits and retries with what it
        holds; a bug is logged loudly and the rows waiting here are given back."""
        self._failures += 1
        log_failure("delivery loop", self.platform, exc)
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
            log_failure("delivery give-back", self.platform, exc)
            return
        log.warning("delivery gave back platform=%s rows=%d", self.platform, returned)

    async def _renew(self) -> None:
        """Extend the leases of rows still waiting; drop the ones that were lost."""
        done = set(self._outcomes.batch.row_ids())
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
