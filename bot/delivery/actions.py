"""What a composer hands the worker: an action to perform on a chat, or `Unsendable`.

A composer (bot/delivery/composers.py, the scheduler's) turns an outbox row
into a `Send`, an `Edit` or a `TakeBack`; the worker performs it through the
adapter and records the `Done` it returns.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.adapters.base import Adapter, Outgoing
from bot.store import OutboxRow


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


class Unsendable(Exception):
    """A row's message no longer exists (its file was removed) or no longer
    applies (a reminder for a picket that moved); `reason` is recorded."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
