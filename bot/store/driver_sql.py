"""The delivery worker's hot statements on SQLite, handed to the driver itself.

SQLAlchemy's aiosqlite adaptation makes four trips to aiosqlite's thread per
statement (a cursor, execute, fetch, close). On a virtual machine each trip
costs about 0.2 ms of CPU, two wake-ups of a sleeping thread, and in a paid
broadcast they were most of the store's cost per message. A statement
compiled once for SQLite goes to aiosqlite's own `execute_fetchall` or
`executemany` instead: one trip, inside the same SQLAlchemy transaction (the
same connection and implicit BEGIN; SQLAlchemy commits it). The statements
are the Core ones the rest of the store uses, compiled by SQLAlchemy; only
their transport differs. On PostgreSQL (asyncpg, no thread) they go through
`AsyncConnection.execute` as usual.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


class _Compiled:
    """A statement compiled for SQLite: its SQL and its positional parameters,
    the literal ones (a state, `attempts + 1`) filled in."""

    def __init__(self, stmt: Any, dialect: Any) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql: str = compiled.string
        self._names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self._fixed: dict[str, Any] = dict(compiled.params)

    def args(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        fixed = self._fixed
        return tuple(values[n] if n in values else fixed[n] for n in self._names)


_compiled: dict[int, _Compiled] = {}


def _for_sqlite(conn: AsyncConnection, stmt: Any) -> _Compiled | None:
    if conn.dialect.name != "sqlite":
        return None
    # The statements are module constants (bot/store/outbox_queue.py): one entry each.
    found = _compiled.get(id(stmt))
    if found is None:
        found = _compiled[id(stmt)] = _Compiled(stmt, conn.dialect)
    return found


async def _driver(conn: AsyncConnection) -> Any:
    raw = await conn.get_raw_connection()
    return raw.driver_connection


async def fetch_all(
    conn: AsyncConnection, stmt: Any, values: Mapping[str, Any]
) -> Sequence[Sequence[Any]]:
    """Run one statement and return its rows (tuples in the statement's column order)."""
    compiled = _for_sqlite(conn, stmt)
    if compiled is None:
        return (await conn.execute(stmt, dict(values))).all()
    driver = await _driver(conn)
    rows: Sequence[Sequence[Any]] = await driver.execute_fetchall(
        compiled.sql, compiled.args(values)
    )
    return rows


async def execute_many(conn: AsyncConnection, stmt: Any, rows: list[dict[str, Any]]) -> None:
    """Run one statement once for each set of values."""
    compiled = _for_sqlite(conn, stmt)
    if compiled is None:
        await conn.execute(stmt, rows)
        return
    driver = await _driver(conn)
    await driver.executemany(compiled.sql, [compiled.args(values) for values in rows])
