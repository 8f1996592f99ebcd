"""Persistence: subscribers, the outbox, broadcasts and adapter state."""

from __future__ import annotations

from typing import Protocol

from bot.store.database import DatabaseError, make_engine, migrate
from bot.store.drafts import Draft, DraftAction
from bot.store.store import OutboxRow, Retry, RowKind, Store, Subscription

__all__ = [
    "DatabaseError",
    "Draft",
    "DraftAction",
    "KeyValue",
    "OutboxRow",
    "Retry",
    "RowKind",
    "Store",
    "Subscription",
    "open_store",
]


class KeyValue(Protocol):
    """Small values an adapter keeps across restarts."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...


class PrefixedState:
    """A KeyValue over the store's adapter_state table, namespaced per adapter."""

    def __init__(self, store: Store, prefix: str) -> None:
        self._store = store
        self._prefix = prefix

    async def get(self, key: str) -> str | None:
        return await self._store.get_state(f"{self._prefix}:{key}")

    async def set(self, key: str, value: str) -> None:
        await self._store.set_state(f"{self._prefix}:{key}", value)


async def open_store(url: str) -> Store:
    """Connect, migrate to the newest schema, and return the store."""
    engine = make_engine(url)
    try:
        await migrate(engine)
    except BaseException:
        await engine.dispose()
        raise
    return Store(engine)
