"""Sealing a database's identities in place: on (the first key), over (a new
key) and off (no key).

Every chat id, room id and message id is read, opened with the old key (or
taken as it is), sealed with the new one (or left plain), and written back,
all in one transaction with the key's check value: a database is never half
under one key. SQLite is then vacuumed and PostgreSQL's tables rewritten, so
the plain values do not live on in freed pages.

The check value (`privacy:check` in adapter_state) is how a wrong or missing
key is refused before anything is read or written (`check_key`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, inspect, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.privacy.identities import Identities
from bot.privacy.keys import Keyring, SealError
from bot.store.database import PG_LOCK_ID, DatabaseError, cannot_open
from bot.store.schema import adapter_state, drafts, outbox, subscribers

CHECK_KEY = "privacy:check"
# The HMAC key of drafts' owners when no privacy key is set (bot/chat/publishing).
PUBLISHING_KEY = "publishing:key"
# Rows read and written per round trip.
_BATCH = 2000

Progress = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Resealed:
    chats: int
    records: int
    drafts: int


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
) -> Resealed | None:
    """Bring every identity from `old` (None: plain) to `new` (None: plain).

    Returns None when the database already is under `new` (another process
    did it first). Drafts are deleted when the key changes: their owners are
    hashed with a key derived from it, and a new key would not know them."""
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
        chats = await _reseal_table(conn, subscribers, before, after, progress, "chats")
        records = await _reseal_table(conn, outbox, before, after, progress, "delivery records")
        dropped = (await conn.execute(delete(drafts))).rowcount
        await conn.execute(delete(adapter_state).where(adapter_state.c.key == PUBLISHING_KEY))
        await conn.execute(delete(adapter_state).where(adapter_state.c.key == CHECK_KEY))
        if new is not None:
            await conn.execute(adapter_state.insert().values(key=CHECK_KEY, value=new.check))
    await _scrub(engine)
    return Resealed(chats, records, max(dropped, 0))


async def _reseal_table(
    conn: AsyncConnection,
    table: Any,
    before: Identities,
    after: Identities,
    progress: Progress,
    what: str,
) -> int:
    has_ids = "message_ids" in table.c
    columns = [table.c.id, table.c.platform, table.c.chat_id, table.c.chat_box]
    if has_ids:
        columns.append(table.c.message_ids)
    total = int(await conn.scalar(select(func.count()).select_from(table)) or 0)
    done, last_id = 0, -1
    values: dict[str, Any] = {"chat_id": bindparam("new_id"), "chat_box": bindparam("new_box")}
    if has_ids:
        values["message_ids"] = bindparam("new_ids")
    stmt = update(table).where(table.c.id == bindparam("row_id")).values(**values)
    while True:
        rows = (
            await conn.execute(
                select(*columns).where(table.c.id > last_id).order_by(table.c.id).limit(_BATCH)
            )
        ).all()
        if not rows:
            break
        params = []
        for row in rows:
            try:
                chat = before.chat(row.platform, row.chat_id, row.chat_box)
                ids = before.open_ids(row.message_ids) if has_ids else None
            except SealError:
                raise DatabaseError(
                    f"a {table.name} row does not open with the old key; nothing was changed"
                ) from None
            param = {
                "row_id": row.id,
                "new_id": after.index(row.platform, chat),
                "new_box": after.box(row.platform, chat),
            }
            if has_ids:
                param["new_ids"] = after.seal_ids(ids)
            params.append(param)
        await conn.execute(stmt, params)
        done += len(rows)
        last_id = rows[-1].id
        progress(f"privacy: {what} {done}/{total}")
    return done


async def _scrub(engine: AsyncEngine) -> None:
    """Rewrite the files so the old values are not left in freed space."""
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        if engine.dialect.name == "sqlite":
            await auto.execute(text("VACUUM"))
            await auto.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        else:
            for name in ("subscribers", "outbox", "drafts", "adapter_state"):
                await auto.execute(text(f"VACUUM FULL {name}"))
