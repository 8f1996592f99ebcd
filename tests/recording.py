"""A recording adapter for engine tests: typed like the real ones, no platform."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from bot.adapters.base import (
    ChatGoneHandler,
    ChatKind,
    CommandHandler,
    Incoming,
    Outgoing,
    SendError,
)
from bot.render import to_plain


def plain(markdown: str) -> str:
    return "\n".join(to_plain(markdown))


class RecordingAdapter:
    """Records every send; `fail` decides per (chat, attempt) whether a send raises."""

    def __init__(self, platform: str = "telegram", max_in_flight: int = 16) -> None:
        self.platform = platform
        self.max_in_flight = max_in_flight
        self.sent: list[tuple[str, Outgoing]] = []
        self.attempts: dict[str, int] = {}
        self.fail: Callable[[str, int], SendError | None] = lambda chat, attempt: None
        self.on_command: CommandHandler | None = None
        self.changed = asyncio.Event()

    async def start(self, on_command: CommandHandler, on_chat_gone: ChatGoneHandler) -> None:
        self.on_command = on_command

    async def stop(self) -> None:
        self.on_command = None

    async def send(self, chat_id: str, message: Outgoing) -> list[str]:
        attempt = self.attempts.get(chat_id, 0) + 1
        self.attempts[chat_id] = attempt
        error = self.fail(chat_id, attempt)
        if error is not None:
            raise error
        self.sent.append((chat_id, message))
        self.changed.set()
        return [f"m{len(self.sent)}"]

    async def say(
        self,
        chat_id: str,
        text: str,
        *,
        kind: ChatKind = ChatKind.PRIVATE,
        may_manage: bool = True,
        admin: bool = False,
    ) -> list[str]:
        """A person in `chat_id` types `text`; return the answers as they read them."""
        assert self.on_command is not None, "adapter not started"
        answers = await self.on_command(
            Incoming(self.platform, chat_id, kind, text, may_manage, admin)
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
