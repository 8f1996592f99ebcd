"""The Telegram send-slot scheduler: how fast, in what order, and after a 429.

Telegram allows about 30 messages/s overall (1,000/s with paid broadcasts),
one per second in a private chat and 20 a minute in a group or channel. Every
send asks this scheduler for a slot first. One dispatcher task hands slots
out from a token bucket refilled evenly, to the highest-priority waiter whose
chat is not still in its per-chat spacing; so a command answer (REPLY) takes
the very next slot even behind thousands of queued broadcast sends, and one
slow group never holds up the chats behind it. A 429 empties the bucket and
stops it until `retry_after` has passed; it then refills from zero, so the
backlog does not burst into the next 429.

The bucket is paced 2.5 % below the configured rate (`margin`) and holds at
most 1 + rate x margin / 8 tokens: so many that a late timer is caught up, so
few that no one-second window holds more than the configured number of
sends, with about 22 ms (`margin` x 7/8 of a second) to spare for a send
that leaves or arrives late (a garbage collection, a busy server).

At high rates the dispatcher wakes once per few tokens, not once per token:
it sleeps until the bucket holds a few whole tokens (2 at 1,000/s, 1 at
30/s; a late timer must not overflow it) or as many as there are waiters,
then grants them together. Each wake-up
of the event loop costs tens of microseconds; at 1,000 sends a second that
was a tenth of the bot's CPU. The bucket bounds every window all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable

from bot.adapters.base import Priority

# How late a timer may fire without costing tokens (seconds).
LATE_WAKEUP = 0.0015


def is_private_chat(chat_id: str) -> bool:
    """Private chats have positive ids; groups and channels negative ids or @names."""
    return chat_id.isdigit()


class _Waiter:
    __slots__ = ("chat_id", "future")

    def __init__(self, chat_id: str, future: asyncio.Future[None]) -> None:
        self.chat_id = chat_id
        self.future = future


class SendLimiter:
    """Grants send slots: global token bucket, per-chat spacing, two priorities."""

    def __init__(
        self,
        *,
        per_second: float,
        private_interval: float,
        group_interval: float,
        margin: float = 0.025,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self._rate = per_second * (1 - margin)
        # Room to catch up a late wake-up (asyncio timers fire up to a
        # millisecond late; without it every slot would lose that time).
        self._burst = 1 + per_second * margin / 8
        # Whole tokens the dispatcher waits for before granting them together,
        # leaving room in the bucket for a timer that fires a millisecond or
        # so late (epoll rounds timeouts up to whole milliseconds): tokens
        # beyond `_burst` are lost, and with them throughput.
        self._batch = max(1, int(self._burst - self._rate * LATE_WAKEUP))
        # Per-chat spacing gets the same kind of allowance for clock jitter.
        self._private_interval = private_interval * (1 + 2 * margin)
        self._group_interval = group_interval * (1 + 2 * margin)
        self._clock = clock
        self._tokens = 1.0
        self._stamp = clock()
        self._paused_until = 0.0
        self._queues: tuple[deque[_Waiter], deque[_Waiter]] = (deque(), deque())
        self._chat_next: dict[str, float] = {}
        self._wakeup: asyncio.Future[None] | None = None
        self._idle = False
        self._task: asyncio.Task[None] | None = None
        self.granted = 0

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def waiting(self) -> int:
        return sum(len(q) for q in self._queues)

    async def slot(self, chat_id: str, priority: Priority = Priority.BROADCAST) -> None:
        """Wait until a message to `chat_id` may be sent now."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="telegram-send-limiter")
        future: asyncio.Future[None] = loop.create_future()
        self._queues[0 if priority == Priority.REPLY else 1].append(_Waiter(chat_id, future))
        if self._idle:
            self._wake()
        await future

    def pause(self, seconds: float) -> None:
        """The server said 429: no slot for anyone before `seconds` from now."""
        until = self._clock() + seconds
        if until > self._paused_until:
            self._paused_until = until
            self._tokens = 0.0
            self._stamp = until

    async def close(self) -> None:
        """Stop the dispatcher; senders still waiting are cancelled."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for queue in self._queues:
            while queue:
                queue.popleft().future.cancel()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _sleep(self, delay: float | None, *, idle: bool) -> None:
        loop = asyncio.get_running_loop()
        self._wakeup = loop.create_future()
        self._idle = idle
        handle = None if delay is None else loop.call_later(delay, self._wake)
        try:
            await self._wakeup
        finally:
            if handle is not None:
                handle.cancel()
            self._wakeup = None
            self._idle = False

    def _interval(self, chat_id: str) -> float:
        return self._private_interval if is_private_chat(chat_id) else self._group_interval

    def _pick(self, now: float) -> tuple[_Waiter | None, float | None]:
        """The first waiter, best priority first, whose chat may receive now;
        else None and the earliest moment one will."""
        earliest: float | None = None
        for queue in self._queues:
            index = 0
            while index < len(queue):
                waiter = queue[index]
                if waiter.future.done():  # its sender was cancelled
                    del queue[index]
                    continue
                ready = self._chat_next.get(waiter.chat_id, 0.0)
                if ready <= now:
                    del queue[index]
                    return waiter, None
                earliest = ready if earliest is None else min(earliest, ready)
                index += 1
        return None, earliest

    def _forget_old_chats(self, now: float) -> None:
        if len(self._chat_next) > 50_000:
            self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}

    async def _run(self) -> None:
        while True:
            if not (self._queues[0] or self._queues[1]):
                await self._sleep(None, idle=True)
                continue
            now = self._clock()
            if now < self._paused_until:
                await self._sleep(self._paused_until - now, idle=False)
                continue
            if now > self._stamp:
                self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
                self._stamp = now
            if self._tokens < 1:
                want = min(self._batch, self.waiting())
                await self._sleep((want - self._tokens) / self._rate, idle=False)
                continue
            waiter, ready_at = self._pick(now)
            if waiter is None:
                # Every waiting chat is still in its spacing: sleep until the
                # first is free, or until a new sender (maybe a reply) arrives.
                await self._sleep(None if ready_at is None else ready_at - now, idle=True)
                continue
            self._tokens -= 1
            self._chat_next[waiter.chat_id] = now + self._interval(waiter.chat_id)
            self.granted += 1
            waiter.future.set_result(None)
            self._forget_old_chats(now)
