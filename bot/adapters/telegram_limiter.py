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

No window of 1 s + `slack` (22 ms) holds more sends than the configured
rate: the bucket holds at most `burst` tokens and refills at
(rate + 1 - burst) / (1 + slack) a second, so a send that leaves or arrives up
to 22 ms late (a garbage collection, a busy server) draws no 429. At 30/s
that paces 2.4 % below the limit; at 1,000/s 3.8 %.

At high rates the dispatcher grants slots in batches: it sleeps until the
bucket holds `batch` whole tokens (rate x 16 ms: 16 at 1,000/s, 1 at 30/s) or
as many as there are waiters, then grants them together, and the bucket has
room for them and for a timer that fires a little late. Each wake-up of an
otherwise idle process costs about 0.1 ms of CPU on a virtual machine; at
1,000 sends a second, waking for every second token took a sixth of the
bot's CPU, and sends that go out together come back together, so their
answers are read in one wake-up too (docs/benchmarks.md).

An album (sendMediaGroup) is one request but each of its photos counts as a
message: its slot has a `weight` w. The bucket saves up w tokens for it
(nobody else is served meanwhile, so the second before it has room for w
messages) and after it owes w - 1 more (so the second after it has room
too): an album costs 2w - 1 slots of time, the price of a strict one-second
window that all w messages land in at once. Its chat must have been quiet
for w spacings before it goes.
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
# The dispatcher's shortest sleep at high rates: slots go out in batches of
# rate x this (seconds).
BATCH_EVERY = 0.016
# How late (or early) a send may reach the server without its one-second
# window counting more than the limit (seconds).
SLACK = 0.022
# Per-chat spacing is kept this much longer than the platform's (clock jitter).
SPACING_MARGIN = 0.05


def is_private_chat(chat_id: str) -> bool:
    """Private chats have positive ids; groups and channels negative ids or @names."""
    return chat_id.isdigit()


class _Waiter:
    __slots__ = ("chat_id", "future", "rank", "weight")

    def __init__(
        self, chat_id: str, future: asyncio.Future[None], rank: int, weight: int = 1
    ) -> None:
        self.chat_id = chat_id
        self.future = future
        self.rank = rank  # which queue: 0 answers, 1 broadcasts
        self.weight = weight


class SendLimiter:
    """Grants send slots: global token bucket, per-chat spacing, two priorities."""

    def __init__(
        self,
        *,
        per_second: float,
        private_interval: float,
        group_interval: float,
        slack: float = SLACK,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self._batch = max(1, int(per_second * BATCH_EVERY))
        # Room for a batch and for a timer that fires late (asyncio timers fire
        # up to a millisecond or so late; epoll rounds timeouts up to whole
        # milliseconds): tokens beyond `_burst` would be lost, and with them
        # throughput.
        self._burst = self._batch + per_second * LATE_WAKEUP
        # In any 1 s + slack the bucket grants at most its burst and what it
        # refills meanwhile, a whole number of sends: keep that under limit + 1.
        # (Rates under one a second get half their rate at worst.)
        self._rate = max((per_second + 0.95 - self._burst) / (1 + slack), per_second / 2)
        self._private_interval = private_interval * (1 + SPACING_MARGIN)
        self._group_interval = group_interval * (1 + SPACING_MARGIN)
        self._clock = clock
        self._tokens = 1.0
        self._saving = 0  # the weight of an album the bucket saves up for
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

    async def slot(
        self, chat_id: str, priority: Priority = Priority.BROADCAST, weight: int = 1
    ) -> None:
        """Wait until `weight` messages (an album's) to `chat_id` may be sent now."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="telegram-send-limiter")
        future: asyncio.Future[None] = loop.create_future()
        rank = 0 if priority == Priority.REPLY else 1
        self._queues[rank].append(_Waiter(chat_id, future, rank, max(1, weight)))
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
                if waiter.weight > 1 and ready > 0:
                    ready += (waiter.weight - 1) * self._interval(waiter.chat_id)
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
                cap = max(self._burst, self._saving)
                self._tokens = min(cap, self._tokens + (now - self._stamp) * self._rate)
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
            if waiter.weight > self._tokens:
                # An album: save up for it, first in line (replies still pass).
                self._queues[waiter.rank].appendleft(waiter)
                self._saving = waiter.weight
                await self._sleep((waiter.weight - self._tokens) / self._rate, idle=False)
                continue
            self._saving = 0
            self._tokens -= 2 * waiter.weight - 1
            self._chat_next[waiter.chat_id] = now + self._interval(waiter.chat_id)
            self.granted += 1
            waiter.future.set_result(None)
            self._forget_old_chats(now)
