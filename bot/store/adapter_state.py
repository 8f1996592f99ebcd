"""The adapters' small values kept across restarts (`adapter_state`): the
Matrix sync token, the pickets scheduler's first sightings, the publishing
key. A plain key-value table; each adapter sees its own keys through
`PrefixedState`.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.schema import adapter_state


class KeyValue(Protocol):
    """Small values an adapter keeps across restarts."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...


class AdapterStateMixin:
    engine: AsyncEngine
    _insert: Any

    async def get_state(self, key: str) -> str | None:
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                select(adapter_state.c.value).where(adapter_state.c.key == key)
            )
            return str(found) if found is not None else None

    async def set_state(self, key: str, value: str) -> None:
        stmt = self._insert(adapter_state).values(key=key, value=value)
        async with self.engine.begin() as conn:
            await conn.execute(
                stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value})
            )

    async def state_setdefault(self, key: str, value: str) -> str:
        """Store `value` under `key` unless one is there; return the stored one."""
        async with self.engine.begin() as conn:
            await conn.execute(
                self._insert(adapter_state).values(key=key, value=value).on_conflict_do_nothing()
            )
            found = await conn.scalar(
                select(adapter_state.c.value).where(adapter_state.c.key == key)
            )
            return str(found)


class PrefixedState:
    """A KeyValue over the store's adapter_state table, namespaced per adapter."""

    def __init__(self, store: AdapterStateMixin, prefix: str) -> None:
        self._store = store
        self._prefix = prefix

    async def get(self, key: str) -> str | None:
        return await self._store.get_state(f"{self._prefix}:{key}")

    async def set(self, key: str, value: str) -> None:
        await self._store.set_state(f"{self._prefix}:{key}", value)
