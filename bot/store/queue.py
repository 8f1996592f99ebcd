"""The outbox as a work queue: claim due rows, record each send's outcome.

A claimed row is leased to one worker (`claimed_by`): its state is `sending`
until `leased_until`, and the worker renews the lease while the row waits for
its turn. A crash leaves leases behind; they expire and the rows are sent
again, so a crash resends at most what was in flight and loses nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.privacy.identities import Identities
from bot.store.rows import OutboxRow
from bot.store.schema import adapter_state, outbox

# Rows that ended without a send for a good reason: not errors for /status.
NOT_ERRORS = ("stopped", "superseded", "unchanged", "withdrawn")

# Ids per IN (...) list: well below SQLite's and asyncpg's parameter limits.
_CHUNK = 500


class QueueMixin:
    engine: AsyncEngine
    ids: Identities
    _insert: Any

    async def claim(
        self,
        platform: str,
        now: float,
        limit: int,
        lease: float,
        owner: str = "",
        *,
        expired: bool = True,
    ) -> list[OutboxRow]:
        """Lease up to `limit` due rows of one platform to `owner`, oldest first:
        rows whose lease ran out (their holder died; unless `expired` is
        False), then queued rows now due."""
        values = {"state": "sending", "leased_until": now + lease, "claimed_by": owner}
        run_out = [outbox.c.state == "sending", outbox.c.leased_until < now]
        queued = [outbox.c.state == "queued", outbox.c.due_at <= now]
        rows: list[Any] = []
        async with self.engine.begin() as conn:
            # Two statements, each served by the (platform, state, due_at, id)
            # index in order: one OR over both states would read and sort the
            # whole backlog on every claim.
            for where in (run_out, queued) if expired else (queued,):
                if len(rows) >= limit:
                    break
                pick = (
                    select(outbox.c.id)
                    .where(outbox.c.platform == platform, *where)
                    .order_by(outbox.c.due_at, outbox.c.id)
                    .limit(limit - len(rows))
                    .with_for_update(skip_locked=True)
                )
                # One statement per step, so two claimers can never take the
                # same row: SQLite runs writers one after another, PostgreSQL
                # skips locked rows.
                stmt = (
                    update(outbox)
                    .where(outbox.c.id.in_(pick.scalar_subquery()))
                    .values(**values)
                    .returning(*outbox.c)
                )
                rows += (await conn.execute(stmt)).all()
        rows.sort(key=lambda r: (r.due_at, r.id))
        return [OutboxRow.from_row(r, self.ids) for r in rows]

    async def renew(self, owner: str, row_ids: Collection[int], until: float) -> set[int]:
        """Extend the leases `owner` still holds; return the ids it still holds.

        A row missing from the answer was taken over (its lease had run out and
        another worker claimed it) or finished elsewhere: its holder must not
        send it."""
        return await self._update_held(owner, row_ids, {"leased_until": until})

    async def give_back(self, owner: str, row_ids: Collection[int]) -> int:
        """Return rows `owner` claimed but did not send to the queue, due at once."""
        back = {"state": "queued", "leased_until": None, "claimed_by": None}
        return len(await self._update_held(owner, row_ids, back))

    async def _update_held(
        self, owner: str, row_ids: Collection[int], values: dict[str, Any]
    ) -> set[int]:
        """Update the rows of `row_ids` that `owner` still holds; return their ids."""
        done: set[int] = set()
        ids = list(row_ids)
        if not ids:
            return done
        async with self.engine.begin() as conn:
            for start in range(0, len(ids), _CHUNK):
                result = await conn.execute(
                    update(outbox)
                    .where(
                        outbox.c.id.in_(ids[start : start + _CHUNK]),
                        outbox.c.state == "sending",
                        outbox.c.claimed_by == owner,
                    )
                    .values(**values)
                    .returning(outbox.c.id)
                )
                done.update(result.scalars())
        return done

    async def release_leases(self, platform: str) -> int:
        """Give back every lease of a platform (one process owns it: a restart)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(outbox)
                .where(
                    outbox.c.platform == platform,
                    outbox.c.state == "sending",
                )
                .values(state="queued", leased_until=None, claimed_by=None)
            )
            return max(result.rowcount, 0)

    async def record(
        self,
        *,
        sent: Sequence[tuple[int, str, str | None]] = (),
        retry: Sequence[tuple[int, float, str]] = (),
        failed: Sequence[tuple[int, str]] = (),
        targets: Sequence[tuple[int, str | None, str | None]] = (),
        now: float,
        owner: str | None = None,
    ) -> None:
        """Write many sends' outcomes in one transaction.

        `sent` is (row, message ids, revision sent or None); `targets` is
        (row, the message ids standing in the chat now or None, revision or
        None) for the rows an edit or a deletion acted on. A send that
        happened is recorded whoever holds the row now. A retry or a failure
        is recorded only while `owner` (if given) still holds the row, so it
        never requeues a row another worker took over."""
        # A chat found gone has its rows failed by `stop` already: a failure
        # needs only the owner, a retry also a row still in flight.
        owned = [] if owner is None else [outbox.c.claimed_by == owner]
        in_flight = [*owned, outbox.c.state == "sending"] if owned else []
        async with self.engine.begin() as conn:
            if sent:
                await self._mark(
                    conn,
                    [
                        {
                            "row_id": i,
                            "ids": self.ids.seal_ids(ids[:255]),
                            "rev": rev,
                        }
                        for i, ids, rev in sent
                    ],
                    [],
                    state="sent",
                    done_at=now,
                    message_ids=bindparam("ids"),
                    revision=func.coalesce(bindparam("rev"), outbox.c.revision),
                )
            if targets:
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.id == bindparam("row_id"))
                    .values(
                        message_ids=bindparam("ids"),
                        revision=func.coalesce(bindparam("rev"), outbox.c.revision),
                    ),
                    [
                        {
                            "row_id": i,
                            "ids": self.ids.seal_ids(ids[:255] if ids else None),
                            "rev": rev,
                        }
                        for i, ids, rev in targets
                    ],
                )
            if retry:
                await self._mark(
                    conn,
                    [{"row_id": i, "due": d, "err": k} for i, d, k in retry],
                    in_flight,
                    state="queued",
                    due_at=bindparam("due"),
                    last_error=bindparam("err"),
                )
            if failed:
                await self._mark(
                    conn,
                    [{"row_id": i, "err": k} for i, k in failed],
                    owned,
                    state="failed",
                    done_at=now,
                    last_error=bindparam("err"),
                )

    @staticmethod
    async def _mark(
        conn: AsyncConnection, params: list[dict[str, Any]], where: list[Any], **values: Any
    ) -> None:
        """Record one outcome for many rows: a single executemany UPDATE."""
        stmt = (
            update(outbox)
            .where(outbox.c.id == bindparam("row_id"), *where)
            .values(leased_until=None, claimed_by=None, attempts=outbox.c.attempts + 1, **values)
        )
        await conn.execute(stmt, params)

    async def mark_sent(self, done: Sequence[tuple[int, str]], now: float) -> None:
        await self.record(sent=[(i, ids, None) for i, ids in done], now=now)

    async def mark_retry(self, retries: Sequence[tuple[int, float, str]]) -> None:
        await self.record(retry=retries, now=0.0)

    async def mark_failed(self, failures: Sequence[tuple[int, str]], now: float) -> None:
        await self.record(failed=failures, now=now)

    async def has_work(self, platform: str, now: float) -> bool:
        """Whether a row of `platform` is due now or in flight (in any process)."""
        busy = or_(
            outbox.c.state == "sending",
            and_(outbox.c.state == "queued", outbox.c.due_at <= now),
        )
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                select(outbox.c.id).where(outbox.c.platform == platform, busy).limit(1)
            )
            return found is not None

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
                .where(outbox.c.state == "failed", outbox.c.last_error.not_in(NOT_ERRORS))
                .order_by(outbox.c.done_at.desc())
                .limit(limit)
            )
            return [(p, i, e or "", d or 0.0) for p, i, e, d in rows.all()]

    async def purge_done(self, before: float) -> int:
        """Forget who received what once it is old: sent and failed rows before `before`."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(outbox).where(
                    outbox.c.state.in_(("sent", "failed", "halted")), outbox.c.done_at < before
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
