"""Opening the database: URL translation, engine options, migrations at start.

`sqlite:///file.db` and `postgresql://…` are what operators write; the async
drivers (aiosqlite, asyncpg) are chosen here. Migrations run with Alembic
before anything else touches the database; a database written by a newer
strikewire is refused rather than guessed at.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolResetState

MIGRATIONS = Path(__file__).parent / "migrations"
# Alembic keeps its running environment in module globals, so two migrations
# in one process (two stores opened at once) must take turns.
_MIGRATING: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)
# Several processes starting against one PostgreSQL database migrate in turn.
PG_LOCK_ID = 0x5754_5249_4B45  # "STRIKE"


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


def make_engine(url: str) -> AsyncEngine:
    target = async_url(url)
    if target.startswith("sqlite"):
        path = target.split(":///", 1)[1] if ":///" in target else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(target, pool_reset_on_return=None)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "reset", _sqlite_reset)
        return engine
    return create_async_engine(target, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _alembic_config(connection: Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    cfg = _alembic_config(connection)
    script = ScriptDirectory.from_config(cfg)
    current = MigrationContext.configure(connection).get_current_revision()
    known = {rev.revision for rev in script.walk_revisions()}
    if current is not None and current not in known:
        raise DatabaseError(
            f"the database is at schema revision {current}, newer than this strikewire "
            f"knows (up to {script.get_current_head()}): upgrade strikewire, "
            "or point database.url at another database"
        )
    command.upgrade(cfg, "head")


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


def cannot_open(exc: BaseException) -> DatabaseError:
    """The one line an operator gets for a database the driver could not use."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return DatabaseError(f"cannot open the database: {text[0] if text else type(exc).__name__}")


def sqlite_file(url: str) -> Path | None:
    """The file a `sqlite:///` URL names; None for other databases and :memory:."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return None
    return Path(url.removeprefix("sqlite:///"))
