"""The outbox as a work queue: claim due rows, record each send's outcome.

A claimed row is leased: its state is `sending` until `leased_until`. A crash
leaves leases behind; they expire and the rows are sent again, so a crash
resends at most what was in flight and loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.schema import adapter_state, outbox


class QueueMixin:
    engine: AsyncEngine
    _insert: Any

    async def claim(self, platform: str, now: float, limit: int, lease: float) -> list[Any]:
        """Lease up to `limit` due rows of one platform, oldest first."""
        due = or_(
            and_(outbox.c.state == "queued", outbox.c.due_at <= now),
            and_(outbox.c.state == "sending", outbox.c.leased_until < now),
        )
        pick = (
            select(outbox.c.id)
            .where(outbox.c.platform == platform, due)
            .order_by(outbox.c.due_at, outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        # One statement, so two claimers can never take the same row: SQLite
        # runs writers one after another, PostgreSQL skips locked rows.
        stmt = (
            update(outbox)
            .where(outbox.c.id.in_(pick.scalar_subquery()))
            .values(state="sending", leased_until=now + lease)
            .returning(*outbox.c)
        )
        async with self.engine.begin() as conn:
            rows = list((await conn.execute(stmt)).all())
        rows.sort(key=lambda r: (r.due_at, r.id))
        return rows

    async def release_leases(self, platform: str) -> int:
        """Give back every lease of a platform (one process owns it: a restart)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(outbox)
                .where(
                    outbox.c.platform == platform,
                    outbox.c.state == "sending",
                )
                .values(state="queued", leased_until=None)
            )
            return max(result.rowcount, 0)

    async def _mark(self, params: list[dict[str, Any]], **values: Any) -> None:
        """Record one outcome for many rows: a single executemany UPDATE."""
        if not params:
            return
        stmt = (
            update(outbox)
            .where(outbox.c.id == bindparam("row_id"))
            .values(leased_until=None, attempts=outbox.c.attempts + 1, **values)
        )
        async with self.engine.begin() as conn:
            await conn.execute(stmt, params)

    async def mark_sent(self, done: Sequence[tuple[int, str]], now: float) -> None:
        params = [{"row_id": i, "ids": ids[:255]} for i, ids in done]
        await self._mark(params, state="sent", done_at=now, message_ids=bindparam("ids"))

    async def mark_retry(self, retries: Sequence[tuple[int, float, str]]) -> None:
        params = [{"row_id": i, "due": d, "kind": k} for i, d, k in retries]
        await self._mark(
            params, state="queued", due_at=bindparam("due"), last_error=bindparam("kind")
        )

    async def mark_failed(self, failures: Sequence[tuple[int, str]], now: float) -> None:
        params = [{"row_id": i, "kind": k} for i, k in failures]
        await self._mark(params, state="failed", done_at=now, last_error=bindparam("kind"))

    async def next_due(self, platform: str) -> float | None:
        """When the earliest queued row of a platform becomes due."""
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                select(func.min(outbox.c.due_at)).where(
                    outbox.c.platform == platform, outbox.c.state == "queued"
                )
            )
            return float(found) if found is not None else None

    async def pending(self, platforms: Sequence[str] | None = None) -> int:
        """Rows still to be sent (queued or in flight)."""
        where = [outbox.c.state.in_(("queued", "sending"))]
        if platforms is not None:
            where.append(outbox.c.platform.in_(list(platforms)))
        async with self.engine.connect() as conn:
            return int(
                await conn.scalar(select(func.count()).select_from(outbox).where(*where)) or 0
            )

    async def queue_counts(self) -> dict[tuple[str, str], int]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(outbox.c.platform, outbox.c.state, func.count()).group_by(
                    outbox.c.platform, outbox.c.state
                )
            )
            return {(p, s): n for p, s, n in rows.all()}

    async def recent_errors(self, limit: int = 5) -> list[tuple[str, str, str, float]]:
        """(platform, item id, error kind, when) of the latest failures; no chat ids."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(outbox.c.platform, outbox.c.item_id, outbox.c.last_error, outbox.c.done_at)
                .where(outbox.c.state == "failed", outbox.c.last_error.not_in(("stopped",)))
                .order_by(outbox.c.done_at.desc())
                .limit(limit)
            )
            return [(p, i, e or "", d or 0.0) for p, i, e, d in rows.all()]

    async def purge_done(self, before: float) -> int:
        """Forget who received what once it is old: sent and failed rows before `before`."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(outbox).where(
                    outbox.c.state.in_(("sent", "failed")), outbox.c.done_at < before
                )
            )
            return max(result.rowcount, 0)

    # Adapter state (the KeyValue protocol).

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
