"""Persistence: subscribers, the outbox, broadcasts, drafts and adapter state
(bot/store/store.py says which module keeps which table), and `open_store`."""

from __future__ import annotations

from datetime import timedelta

from bot.privacy.identities import Identities
from bot.privacy.keys import Keyring
from bot.store.adapter_state import KeyValue, PrefixedState
from bot.store.database import (
    DatabaseError,
    check_schema,
    hold_postgres_lock,
    make_engine,
    migrate,
    release_postgres_lock,
    sqlite_file,
)
from bot.store.drafts import Draft, DraftAction
from bot.store.rows import OutboxRow, Retry, RowKind, Subscription
from bot.store.sealing import Progress, check_key, reseal, stored_check
from bot.store.store import Store

__all__ = [
    "DatabaseError",
    "Draft",
    "DraftAction",
    "KeyValue",
    "OutboxRow",
    "PrefixedState",
    "Retry",
    "RowKind",
    "Store",
    "Subscription",
    "open_store",
]


# What a read-only command says of a plain database while privacy.key is set.
NOT_SEALED = (
    "the database is not encrypted yet, though privacy.key is set: stop the bot and run "
    "`strikewire encrypt` (or start the bot with the key: `strikewire run` encrypts it "
    "first); nothing was changed"
)


async def open_store(
    url: str,
    keyring: Keyring | None = None,
    *,
    keep_inactive: timedelta = timedelta(0),
    progress: Progress | None = None,
    read_only: bool = False,
    hold_lock: bool = True,
) -> Store:
    """Connect, check the key, migrate to the newest schema, and return the store.

    A database sealed with another key, or sealed while no key is given, is
    refused before anything is written. The first time a key is given for a
    plain database, its identities are sealed in place (with progress lines).
    On SQLite the caller holds `<database>.lock` (`strikewire run`,
    `encrypt`); on PostgreSQL the store holds the running lock shared until
    it is closed (`hold_lock`: `encrypt` itself holds it alone).

    `read_only` (status, preview, site): nothing is ever written; a database
    that would need migrating or sealing is refused with the command that
    does it."""
    if read_only:
        return await _open_read_only(url, keyring, keep_inactive)
    engine = make_engine(url)
    lock = None
    try:
        lock = await hold_postgres_lock(engine, alone=False) if hold_lock else None
        stored = await stored_check(engine)
        check_key(stored, keyring)
        await migrate(engine)
        if keyring is not None and stored is None:
            await reseal(engine, None, keyring, *([progress] if progress else []))
    except BaseException:
        await release_postgres_lock(lock)
        await engine.dispose()
        raise
    store = Store(engine, Identities(keyring), keep_inactive=keep_inactive.total_seconds())
    store.lock_connection = lock
    return store


async def _open_read_only(url: str, keyring: Keyring | None, keep_inactive: timedelta) -> Store:
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise DatabaseError(
            f"no database at {path} yet: start the bot once (`strikewire run`) to make it"
        )
    engine = make_engine(url, read_only=True)
    try:
        await check_schema(engine)
        stored = await stored_check(engine)
        check_key(stored, keyring)
        if keyring is not None and stored is None:
            raise DatabaseError(NOT_SEALED)
    except BaseException:
        await engine.dispose()
        raise
    return Store(engine, Identities(keyring), keep_inactive=keep_inactive.total_seconds())
