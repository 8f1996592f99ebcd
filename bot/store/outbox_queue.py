"""The outbox (`outbox`) as a work queue: claim due rows, hold their leases,
record each send's outcome, count what waits and forget old records.

A claimed row is leased to one worker (`claimed_by`): its state is `sending`
until `leased_until`, and the worker renews the lease while the row waits for
its turn. A crash leaves leases behind; they expire and the rows are sent
again, so a crash resends at most what was in flight and loses nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Integer, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.privacy.identities import Identities
from bot.store.driver_sql import execute_many, fetch_all
from bot.store.rows import CLAIMED, CLAIMED_NAMES, OutboxRow
from bot.store.schema import in_state, outbox

# Rows that ended without a send for a good reason: not errors for /status.
NOT_ERRORS = ("stopped", "superseded", "unchanged", "withdrawn")

# Ids per IN (...) list: well below SQLite's and asyncpg's parameter limits.
_CHUNK = 500


# The delivery worker's statements, built once. A statement built anew on each
# call is traversed for SQLAlchemy's cache key every time: about 0.6 ms of CPU
# per claim, a sixth of a paid broadcast's CPU per message (docs/benchmarks.md).
def _claim_statement(*where: Any) -> Any:
    """Lease up to :limit rows of :b_platform matching `where`, oldest first.

    One statement, so two claimers can never take the same row: SQLite runs
    writers one after another, PostgreSQL skips locked rows."""
    pick = (
        select(outbox.c.id)
        .where(outbox.c.platform == bindparam("b_platform"), *where)
        .order_by(outbox.c.due_at, outbox.c.id)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True)
    )
    return (
        update(outbox)
        .where(outbox.c.id.in_(pick.scalar_subquery()))
        .values(state="sending", leased_until=bindparam("until"), claimed_by=bindparam("owner"))
        .returning(*CLAIMED)
    )


_CLAIM_ORDER = itemgetter(CLAIMED_NAMES.index("due_at"), CLAIMED_NAMES.index("id"))

# Each served in order by its state's partial (platform, due_at, id) index:
# one OR over both states would read and sort the whole backlog on every claim.
_CLAIM_RUN_OUT = _claim_statement(in_state("sending"), outbox.c.leased_until < bindparam("now"))
_CLAIM_QUEUED = _claim_statement(in_state("queued"), outbox.c.due_at <= bindparam("now"))


def _mark_statement(*where: Any, **values: Any) -> Any:
    """Record one outcome for many rows (an executemany by :row_id)."""
    return (
        update(outbox)
        .where(outbox.c.id == bindparam("row_id"), *where)
        .values(leased_until=None, claimed_by=None, attempts=outbox.c.attempts + 1, **values)
    )


_REVISION: Any = func.coalesce(bindparam("rev"), outbox.c.revision)
_MARK_SENT = _mark_statement(
    state="sent", done_at=bindparam("now"), message_ids=bindparam("ids"), revision=_REVISION
)
_MARK_TARGET = (
    update(outbox)
    .where(outbox.c.id == bindparam("row_id"))
    .values(message_ids=bindparam("ids"), revision=_REVISION)
)
# A chat found gone has its rows failed by `stop` already: a failure needs only
# the owner, a retry also a row still in flight.
_OWNED = outbox.c.claimed_by == bindparam("owner")
_IN_FLIGHT = outbox.c.state == "sending"
_RETRY = {"state": "queued", "due_at": bindparam("due"), "last_error": bindparam("err")}
_FAIL = {"state": "failed", "done_at": bindparam("now"), "last_error": bindparam("err")}
_MARK_RETRY = _mark_statement(**_RETRY)
_MARK_RETRY_OWNED = _mark_statement(_OWNED, _IN_FLIGHT, **_RETRY)
_MARK_FAILED = _mark_statement(**_FAIL)
_MARK_FAILED_OWNED = _mark_statement(_OWNED, **_FAIL)
# Rows of :row_ids that :owner still holds: their leases extended to :until,
# or given back to the queue.
_HELD = (
    update(outbox)
    .where(outbox.c.id.in_(bindparam("row_ids", expanding=True)), _IN_FLIGHT, _OWNED)
    .returning(outbox.c.id)
)
_RENEW = _HELD.values(leased_until=bindparam("until"))
_GIVE_BACK = _HELD.values(state="queued", leased_until=None, claimed_by=None)


class OutboxQueueMixin:
    engine: AsyncEngine
    ids: Identities

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
        params = {
            "b_platform": platform,
            "now": now,
            "until": now + lease,
            "owner": owner,
        }
        rows: list[Any] = []
        async with self.engine.begin() as conn:
            for stmt in (_CLAIM_RUN_OUT, _CLAIM_QUEUED) if expired else (_CLAIM_QUEUED,):
                if len(rows) >= limit:
                    break
                params["limit"] = limit - len(rows)
                rows += await fetch_all(conn, stmt, params)
        rows.sort(key=_CLAIM_ORDER)
        return [OutboxRow.from_row(r, self.ids) for r in rows]

    async def renew(self, owner: str, row_ids: Collection[int], until: float) -> set[int]:
        """Extend the leases `owner` still holds; return the ids it still holds.

        A row missing from the answer was taken over (its lease had run out and
        another worker claimed it) or finished elsewhere: its holder must not
        send it."""
        return await self._update_held(_RENEW, owner, row_ids, until=until)

    async def give_back(self, owner: str, row_ids: Collection[int]) -> int:
        """Return rows `owner` claimed but did not send to the queue, due at once."""
        return len(await self._update_held(_GIVE_BACK, owner, row_ids))

    async def _update_held(
        self, stmt: Any, owner: str, row_ids: Collection[int], **values: Any
    ) -> set[int]:
        """Run `stmt` (_RENEW or _GIVE_BACK) on the rows of `row_ids` that
        `owner` still holds; return their ids."""
        done: set[int] = set()
        ids = list(row_ids)
        if not ids:
            return done
        async with self.engine.begin() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = {"row_ids": ids[start : start + _CHUNK], "owner": owner, **values}
                done.update((await conn.execute(stmt, chunk)).scalars())
        return done

    async def release_leases(self, platform: str) -> int:
        """Give back every lease of a platform (one process owns it: a restart)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(outbox)
                .where(outbox.c.platform == platform, in_state("sending"))
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

        `sent` is (row, message ids, revision sent or None), the ids kept
        whole however many parts a message had (an edit or a deletion acts
        on each of them later); `targets` is
        (row, the message ids standing in the chat now or None, revision or
        None) for the rows an edit or a deletion acted on. A send that
        happened is recorded whoever holds the row now. A retry or a failure
        is recorded only while `owner` (if given) still holds the row, so it
        never requeues a row another worker took over."""
        owned = {} if owner is None else {"owner": owner}
        async with self.engine.begin() as conn:
            if sent:
                await execute_many(
                    conn,
                    _MARK_SENT,
                    [
                        {"row_id": i, "ids": self.ids.seal_ids(ids), "rev": rev, "now": now}
                        for i, ids, rev in sent
                    ],
                )
            if targets:
                await execute_many(
                    conn,
                    _MARK_TARGET,
                    [
                        {
                            "row_id": i,
                            "ids": self.ids.seal_ids(ids or None),
                            "rev": rev,
                        }
                        for i, ids, rev in targets
                    ],
                )
            if retry:
                await execute_many(
                    conn,
                    _MARK_RETRY_OWNED if owned else _MARK_RETRY,
                    [{"row_id": i, "due": d, "err": k, **owned} for i, d, k in retry],
                )
            if failed:
                await execute_many(
                    conn,
                    _MARK_FAILED_OWNED if owned else _MARK_FAILED,
                    [{"row_id": i, "err": k, "now": now, **owned} for i, k in failed],
                )

    async def mark_sent(self, done: Sequence[tuple[int, str]], now: float) -> None:
        await self.record(sent=[(i, ids, None) for i, ids in done], now=now)

    async def mark_retry(self, retries: Sequence[tuple[int, float, str]]) -> None:
        await self.record(retry=retries, now=0.0)

    async def mark_failed(self, failures: Sequence[tuple[int, str]], now: float) -> None:
        await self.record(failed=failures, now=now)

    async def has_work(self, platform: str, now: float) -> bool:
        """Whether a row of `platform` is due now or in flight (in any process)."""
        # One subquery per state, each on its own partial index; one statement,
        # so a row moving between the states is seen in one or the other.
        on = outbox.c.platform == platform
        busy = or_(
            exists().where(on, in_state("sending")),
            exists().where(on, in_state("queued"), outbox.c.due_at <= now),
        )
        async with self.engine.connect() as conn:
            return bool(await conn.scalar(select(busy)))

    async def pending(self, platforms: Sequence[str] | None = None) -> int:
        """Rows still to be sent (queued or in flight)."""
        only = [] if platforms is None else [outbox.c.platform.in_(list(platforms))]
        counts = [
            select(func.count()).select_from(outbox).where(in_state(state), *only).scalar_subquery()
            for state in ("queued", "sending")
        ]
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(counts[0] + counts[1])) or 0)

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

    async def purge_done(self, now: float, kept: float = 0.0) -> int:
        """Forget who received what once it is old: sent and failed rows done
        more than `kept` seconds before `now`; retention (bot/store/retention.py)."""
        before = now - kept
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(outbox).where(
                    outbox.c.state.in_(("sent", "failed", "halted")), outbox.c.done_at < before
                )
            )
            return max(result.rowcount, 0)
