"""A recording adapter for engine tests: typed like the real ones, no platform."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.adapters.base import (
    ChatGoneHandler,
    ChatKind,
    CommandHandler,
    Document,
    Incoming,
    Outgoing,
    RetryAfter,
    SendError,
    Transient,
)
from bot.platforms import Platform
from bot.render import to_plain


def plain(markdown: str) -> str:
    return "\n".join(to_plain(markdown))


@dataclass
class Timing:
    """How long a fake send takes, like a platform: a base latency, random
    jitter on top, and sends at most `per_second` overall (0: unlimited)."""

    latency: float = 0.0
    jitter: float = 0.0
    per_second: float = 0.0
    # Chance that a send answers RetryAfter / Transient instead of going out.
    retry_after_rate: float = 0.0
    retry_after: float = 0.2
    transient_rate: float = 0.0
    seed: int = 0


class RecordingAdapter:
    """Records every send; `fail` decides per (chat, attempt) whether a send raises.

    With a `Timing`, each send first waits for a slot (`per_second`), then
    takes `latency` + up to `jitter` seconds, and may fail at random with a
    429-like `RetryAfter` or a `Transient` error, all from a seeded generator.
    A send is recorded when it returns, as a platform would have accepted it.
    """

    def __init__(
        self, platform: str = "telegram", max_in_flight: int = 16, timing: Timing | None = None
    ) -> None:
        self.platform = Platform(platform)
        self.max_in_flight = max_in_flight
        self.timing = timing or Timing()
        self._random = random.Random(self.timing.seed)
        self._next_slot = 0.0
        self.sent: list[tuple[str, Outgoing]] = []
        # (chat, ids edited, new text) and (chat, ids taken back), in order.
        self.edits: list[tuple[str, tuple[str, ...], Outgoing]] = []
        self.taken_back: list[tuple[str, tuple[str, ...]]] = []
        self.attempts: dict[str, int] = {}
        self.fail: Callable[[str, int], SendError | None] = lambda chat, attempt: None
        self.on_command: CommandHandler | None = None
        self.changed = asyncio.Event()
        self.started = False
        # What health() says while started (None: connected), and the web's link.
        self.unhealthy: str | None = None
        self.link: str | None = None

    async def start(self, on_command: CommandHandler, on_chat_gone: ChatGoneHandler) -> None:
        self.on_command = on_command
        self.started = True

    async def stop_receiving(self) -> None:
        self.on_command = None

    async def stop(self) -> None:
        self.on_command = None
        self.started = False

    def health(self) -> str | None:
        return self.unhealthy if self.started else f"{self.platform}: not started"

    def subscribe_link(self) -> str | None:
        return self.link

    async def _take_time(self) -> None:
        timing = self.timing
        wait = 0.0
        if timing.per_second:
            now = asyncio.get_running_loop().time()
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1 / timing.per_second
            wait = slot - now
        wait += timing.latency + self._random.uniform(0, timing.jitter)
        if wait:
            await asyncio.sleep(wait)

    async def send(self, chat_id: str, message: Outgoing) -> list[str]:
        assert self.started, "send before start"
        attempt = self.attempts.get(chat_id, 0) + 1
        self.attempts[chat_id] = attempt
        await self._take_time()
        error = self.fail(chat_id, attempt)
        if error is None:
            draw = self._random.random()
            if draw < self.timing.retry_after_rate:
                error = RetryAfter(self.timing.retry_after)
            elif draw < self.timing.retry_after_rate + self.timing.transient_rate:
                error = Transient("502 Bad Gateway")
        if error is not None:
            raise error
        self.sent.append((chat_id, message))
        self.changed.set()
        return [f"m{len(self.sent)}"]

    async def edit(self, chat_id: str, message_ids: Sequence[str], message: Outgoing) -> list[str]:
        assert self.started, "edit before start"
        await self._take_time()
        self.edits.append((chat_id, tuple(message_ids), message))
        self.changed.set()
        return list(message_ids)

    async def take_back(
        self, chat_id: str, message_ids: Sequence[str], reason: str, fallback: Outgoing
    ) -> None:
        assert self.started, "take_back before start"
        await self._take_time()
        self.taken_back.append((chat_id, tuple(message_ids)))
        self.changed.set()

    async def say(
        self,
        chat_id: str,
        text: str,
        *,
        kind: ChatKind = ChatKind.PRIVATE,
        may_manage: bool = True,
        admin: bool = False,
        sender: str | None = None,
        document: Document | None = None,
    ) -> list[str]:
        """A person in `chat_id` types `text`; return the answers as they read them."""
        assert self.on_command is not None, "adapter not started"
        answers = await self.on_command(
            Incoming(
                self.platform,
                chat_id,
                kind,
                text,
                may_manage,
                admin,
                markdown=text,
                document=document,
                sender=sender or chat_id,
            )
        )
        return [plain(a.markdown) for a in answers]

    def received(self, chat_id: str) -> list[str]:
        """What `chat_id` received, as its reader sees it."""
        return [plain(m.markdown) for c, m in self.sent if c == chat_id]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait (bounded) until `predicate()` holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError("timed out waiting for deliveries")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=min(remaining, 0.1))
