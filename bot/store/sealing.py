"""Sealing a database's identities in place: on (the first key), over (a new
key) and off (no key).

Every column the schema marks as an identity (bot/privacy/marks.py) is read,
opened with the old key (or taken as it is), sealed with the new one (or left
plain), and written back, all in one transaction with the key's check value:
a database is never half under one key. Rows holding a keyed stand-in that
cannot be recomputed (drafts' admins) are deleted. SQLite is then vacuumed
and PostgreSQL's marked tables rewritten, so the plain values do not live on
in freed pages. The tables and columns come from the marks, never a list.

The check value (`privacy:check` in adapter_state) is how a wrong or missing
key is refused before anything is read or written (`check_key`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, inspect, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.privacy.identities import Identities
from bot.privacy.keys import Keyring, SealError
from bot.privacy.marks import (
    Holds,
    Protection,
    column_of,
    dropped_on_new_key,
    keeping,
    marked_columns,
    marked_tables,
)
from bot.store.database import PG_LOCK_ID, DatabaseError, cannot_open
from bot.store.schema import adapter_state, metadata

CHECK_KEY = "privacy:check"
# The HMAC key of drafts' owners when no privacy key is set (bot/chat/publishing).
PUBLISHING_KEY = "publishing:key"
# Rows read and written per round trip.
_BATCH = 2000

Progress = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# Every table holding identities, in the schema's order (chats first).
IDENTITY_TABLES: tuple[Table, ...] = tuple(marked_tables(metadata.tables.values()))


@dataclass(frozen=True)
class Resealed:
    """Rows re-sealed and rows deleted, per table name."""

    sealed: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def chats(self) -> int:
        return self.sealed.get("subscribers", 0)

    @property
    def records(self) -> int:
        return self.sealed.get("outbox", 0)

    @property
    def drafts(self) -> int:
        return sum(self.dropped.values())


async def stored_check(engine: AsyncEngine) -> str | None:
    """The check value of the key the database is sealed with; None: plain
    (or no database yet)."""
    try:
        async with engine.connect() as conn:
            has_table = await conn.run_sync(lambda c: inspect(c).has_table("adapter_state"))
            if not has_table:
                return None
            found = await conn.scalar(
                select(adapter_state.c.value).where(adapter_state.c.key == CHECK_KEY)
            )
    except (SQLAlchemyError, OSError) as exc:
        raise cannot_open(exc) from None
    return None if found is None else str(found)


def check_key(stored: str | None, keyring: Keyring | None) -> None:
    """Refuse, before anything is written, a key that does not fit the database."""
    if stored is None:
        return
    if keyring is None:
        raise DatabaseError(
            "the database is encrypted and privacy.key is not set: "
            "set it to the database's key (privacy.key: ${STRIKEWIRE_KEY}); nothing was changed"
        )
    if keyring.check != stored:
        raise DatabaseError(
            "privacy.key does not open this database (it is encrypted with another key; "
            "after `strikewire rotate-key`, set the new one); nothing was changed"
        )


async def reseal(
    engine: AsyncEngine,
    old: Keyring | None,
    new: Keyring | None,
    progress: Progress = _stderr,
    *,
    tables: Sequence[Table] = IDENTITY_TABLES,
) -> Resealed | None:
    """Bring every identity in `tables` from `old` (None: plain) to `new`
    (None: plain).

    Returns None when the database already is under `new` (another process
    did it first). Drafts are deleted when the key changes: their owners are
    hashed with a key derived from it, and a new key would not know them."""
    done = Resealed()
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({PG_LOCK_ID})"))
        current = await conn.scalar(
            select(adapter_state.c.value).where(adapter_state.c.key == CHECK_KEY)
        )
        if current == (new.check if new else None):
            return None
        if current != (old.check if old else None):
            raise DatabaseError("the database's key changed while it was being opened; try again")
        before, after = Identities(old), Identities(new)
        for table in tables:
            if dropped_on_new_key(table):
                dropped = (await conn.execute(delete(table))).rowcount
                done.dropped[table.name] = max(dropped, 0)
            else:
                done.sealed[table.name] = await _reseal_table(conn, table, before, after, progress)
        await conn.execute(delete(adapter_state).where(adapter_state.c.key == PUBLISHING_KEY))
        await conn.execute(delete(adapter_state).where(adapter_state.c.key == CHECK_KEY))
        if new is not None:
            await conn.execute(adapter_state.insert().values(key=CHECK_KEY, value=new.check))
    await _scrub(engine, scrubbed(tables))
    return done


def covered_columns(tables: Sequence[Table]) -> list[Any]:
    """The columns a key change rewrites, or deletes with their rows."""
    found: list[Any] = []
    for table in tables:
        if dropped_on_new_key(table):
            found += [column for column, _ in marked_columns(table)]
        else:
            found += list(_Codec.of(table).assignments_by_column())
    return found


def scrubbed(tables: Sequence[Table]) -> list[Table]:
    """What is rewritten after sealing: every table it wrote to."""
    return [*tables, adapter_state]


@dataclass(frozen=True)
class _Codec:
    """How one table's marked columns go from the old key to the new one:
    a chat's index and its sealed twin (`problems` has them come in pairs),
    sealed message ids. Plain identities do not change with the key."""

    index: Any
    box: Any
    ids: Any

    @classmethod
    def of(cls, table: Table) -> _Codec:
        return cls(
            column_of(table, Holds.CHAT, Protection.PSEUDONYMISED),
            column_of(table, Holds.CHAT, Protection.SEALED),
            column_of(table, Holds.MESSAGES, Protection.SEALED),
        )

    def read(self, table: Table) -> list[Any]:
        chat = [table.c.platform, self.index, self.box] if self.index is not None else []
        return [table.c.id, *chat, *([self.ids] if self.ids is not None else [])]

    def assignments_by_column(self) -> dict[Any, str]:
        """Each column rewritten, and the name of its new value."""
        binds = (("new_index", self.index), ("new_box", self.box), ("new_ids", self.ids))
        return {column: name for name, column in binds if column is not None}

    def assignments(self) -> dict[str, Any]:
        return {c.name: bindparam(name) for c, name in self.assignments_by_column().items()}

    def values(self, row: Any, before: Identities, after: Identities) -> dict[str, Any]:
        """The row's new values, by bind name; SealError if the old key fails."""
        found: dict[str, Any] = {"row_id": row.id}
        if self.index is not None:
            stored = row._mapping
            chat = before.chat(row.platform, stored[self.index], stored[self.box])
            found["new_index"] = after.index(row.platform, chat)
            found["new_box"] = after.box(row.platform, chat)
        if self.ids is not None:
            found["new_ids"] = after.seal_ids(before.open_ids(row._mapping[self.ids]))
        return found


async def _reseal_table(
    conn: AsyncConnection,
    table: Table,
    before: Identities,
    after: Identities,
    progress: Progress,
) -> int:
    codec = _Codec.of(table)
    assignments = codec.assignments()
    if not assignments:
        return 0  # only plain identities: nothing changes with the key
    total = int(await conn.scalar(select(func.count()).select_from(table)) or 0)
    kept = keeping(table)
    what = kept.rows if kept is not None else table.name
    stmt = update(table).where(table.c.id == bindparam("row_id")).values(**assignments)
    done, last_id = 0, None
    while True:
        query = select(*codec.read(table)).order_by(table.c.id).limit(_BATCH)
        if last_id is not None:
            query = query.where(table.c.id > last_id)
        rows = (await conn.execute(query)).all()
        if not rows:
            break
        try:
            params = [codec.values(row, before, after) for row in rows]
        except SealError:
            raise DatabaseError(
                f"a {table.name} row does not open with the old key; nothing was changed"
            ) from None
        await conn.execute(stmt, params)
        done += len(rows)
        last_id = rows[-1].id
        progress(f"privacy: {what} {done}/{total}")
    return done


async def _scrub(engine: AsyncEngine, tables: Sequence[Table]) -> None:
    """Rewrite the files so the old values are not left in freed space."""
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        if engine.dialect.name == "sqlite":
            await auto.execute(text("VACUUM"))
            await auto.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        else:
            for table in tables:
                await auto.execute(text(f"VACUUM FULL {table.name}"))
