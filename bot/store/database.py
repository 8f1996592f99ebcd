"""Opening the database: URL translation, engine options, migrations at start.

`sqlite:///file.db` and `postgresql://…` are what operators write; the async
drivers (aiosqlite, asyncpg) are chosen here. Migrations run with Alembic
before anything else touches the database; a database written by a newer
strikewire is refused rather than guessed at.

A read-only engine (`strikewire status`, `preview`, `site`, `check`) cannot
write at all: SQLite opens the file with `mode=ro`, PostgreSQL starts every
transaction read-only. `check_schema` then names the command that migrates
instead of migrating.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolResetState

MIGRATIONS = Path(__file__).parent / "migrations"
# Alembic keeps its running environment in module globals, so two migrations
# in one process (two stores opened at once) must take turns.
_MIGRATING: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)
# Several processes starting against one PostgreSQL database migrate in turn.
PG_LOCK_ID = 0x5754_5249_4B45  # "STRIKE"
# PostgreSQL's counterpart of `<database>.lock`: every running bot holds it
# shared for its lifetime; encrypt, rotate-key and decrypt take it alone.
PG_RUNNING_LOCK_ID = PG_LOCK_ID + 1


class DatabaseError(Exception):
    """The database cannot be used; str() is one line for the operator."""


def async_url(url: str) -> str:
    """Pick the async driver for a plain database URL."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    if url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        return url
    raise DatabaseError(
        f"database.url {url.split('://')[0]!r}: unsupported database "
        "(use sqlite:///path/to/file.db or postgresql://user:password@host/db)"
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets `strikewire status` read while the bot writes; foreign keys
    # make /forget's cascade work.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    # What is deleted (a chat after /forget, old delivery records) is
    # overwritten with zeros, not left readable in free space in the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """A connection back in the pool is rolled back only if SQLite has a
    transaction open on it. The pool's own reset rolls back every time, and on
    aiosqlite each is a trip to its thread, though after a commit (every
    write) there is nothing to roll back."""
    if state.terminate_only or not state.asyncio_safe:
        return  # being thrown away, or outside the loop: nothing to keep clean
    if dbapi_connection.driver_connection.in_transaction:
        dbapi_connection.rollback()


def make_engine(url: str, *, read_only: bool = False) -> AsyncEngine:
    """The engine for `url`. Its errors never carry a statement's values
    (`hide_parameters`): they are chat ids, and errors reach logs."""
    target = async_url(url)
    if target.startswith("sqlite"):
        path = target.split(":///", 1)[1] if ":///" in target else ""
        if read_only and path and path != ":memory:":
            return _read_only_sqlite(path)
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(target, pool_reset_on_return=None, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "reset", _sqlite_reset)
        return engine
    # Read-only: every transaction of every connection, whatever the code asks.
    read_only_settings = {"server_settings": {"default_transaction_read_only": "on"}}
    return create_async_engine(
        target,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args=read_only_settings if read_only else {},
    )


def _read_only_sqlite(path: str) -> AsyncEngine:
    """SQLite's own read-only mode: no write reaches the file, whatever the
    code asks (WAL's side files may be made, as for any reader)."""
    url = URL.create(
        "sqlite+aiosqlite",
        database="file:" + quote(str(Path(path).resolve())),
        query={"mode": "ro", "uri": "true"},
    )
    engine = create_async_engine(url, pool_reset_on_return=None, hide_parameters=True)
    event.listen(engine.sync_engine, "connect", _sqlite_read_only_pragmas)
    event.listen(engine.sync_engine, "reset", _sqlite_reset)
    return engine


def _sqlite_read_only_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Not _sqlite_pragmas: setting the journal mode is a write.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _alembic_config(connection: Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _newer(current: str | None, script: ScriptDirectory) -> DatabaseError | None:
    known = {rev.revision for rev in script.walk_revisions()}
    if current is None or current in known:
        return None
    return DatabaseError(
        f"the database is at schema revision {current}, newer than this strikewire "
        f"knows (up to {script.get_current_head()}): upgrade strikewire, "
        "or point database.url at another database"
    )


def _upgrade(connection: Connection) -> None:
    cfg = _alembic_config(connection)
    script = ScriptDirectory.from_config(cfg)
    current = MigrationContext.configure(connection).get_current_revision()
    newer = _newer(current, script)
    if newer is not None:
        raise newer
    command.upgrade(cfg, "head")


def _schema_problem(connection: Connection) -> DatabaseError | None:
    script = ScriptDirectory.from_config(_alembic_config(connection))
    current = MigrationContext.configure(connection).get_current_revision()
    head = script.get_current_head()
    if current == head:
        return None
    if current is None:
        return DatabaseError(
            "the database has no tables yet: start the bot once (`strikewire run`) "
            "to make them; nothing was changed"
        )
    return _newer(current, script) or DatabaseError(
        f"the database needs migrating (schema {current}, this strikewire's is {head}): "
        "start the bot once (`strikewire run`), which migrates it; nothing was changed"
    )


async def check_schema(engine: AsyncEngine) -> None:
    """Refuse, without writing, a database whose schema is not this strikewire's."""
    try:
        async with engine.connect() as conn:
            problem = await conn.run_sync(_schema_problem)
    except (SQLAlchemyError, OSError) as exc:
        raise cannot_open(exc) from None
    if problem is not None:
        raise problem


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision, keeping the data."""
    try:
        lock = _MIGRATING.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        async with lock, engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                await conn.execute(text(f"SELECT pg_advisory_xact_lock({PG_LOCK_ID})"))
            await conn.run_sync(_upgrade)
    except DatabaseError:
        raise
    except (SQLAlchemyError, OSError) as exc:
        raise cannot_open(exc) from None


async def hold_postgres_lock(engine: AsyncEngine, *, alone: bool) -> AsyncConnection | None:
    """Take the running lock (shared, or `alone`) on a connection of its own,
    held until `release_postgres_lock`; None on SQLite (`DatabaseOwner`
    there). Refused at once, never waited for."""
    if engine.dialect.name != "postgresql":
        return None
    take = "pg_try_advisory_lock" if alone else "pg_try_advisory_lock_shared"
    try:
        conn = await engine.connect()
        try:
            got = await conn.scalar(text(f"SELECT {take}({PG_RUNNING_LOCK_ID})"))
            await conn.commit()  # the lock is the session's: it outlives the transaction
        except BaseException:
            await conn.close()
            raise
    except (SQLAlchemyError, OSError) as exc:
        raise cannot_open(exc) from None
    if got:
        return conn
    await conn.close()
    if alone:
        raise DatabaseError(
            "a strikewire is running on this database: stop every `strikewire run` "
            "first; nothing was changed"
        )
    raise DatabaseError(
        "strikewire encrypt, rotate-key or decrypt is changing this database: "
        "start the bot when it has finished"
    )


async def release_postgres_lock(conn: AsyncConnection | None) -> None:
    if conn is None:
        return
    try:
        await conn.execute(text("SELECT pg_advisory_unlock_all()"))
        await conn.commit()
    except (SQLAlchemyError, OSError):
        pass  # the connection is gone, and its session's locks with it
    finally:
        await conn.close()


def cannot_open(exc: BaseException) -> DatabaseError:
    """The one line an operator gets for a database the driver could not use."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return DatabaseError(f"cannot open the database: {text[0] if text else type(exc).__name__}")


def sqlite_file(url: str) -> Path | None:
    """The file a `sqlite:///` URL names; None for other databases and :memory:."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return None
    return Path(url.removeprefix("sqlite:///"))
