"""/forget leaves nothing of a chat in a SQLite file (issue #26): not in the
database's free space, not in its write-ahead log, while the bot runs and
after it stops. Without a privacy key the chat id is stored in clear, so the
raw bytes are searched for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.store import Store
from bot.store.database import make_engine, migrate

NOW = 1_800_000_000.0
CHAT = "7493015562"
OTHERS = 50


def holds_chat(db: Path) -> bool:
    """Whether the database file or its write-ahead log, read as a seized
    disk would show them, holds the chat's id."""
    paths = (db, db.with_name(db.name + "-wal"))
    return any(CHAT.encode() in path.read_bytes() for path in paths if path.exists())


def off_by_default(dbapi_connection: Any, _record: Any) -> None:
    """What a SQLite built without SQLITE_SECURE_DELETE does (Debian's is
    built with it): deleted bytes stay in the file unless the bot asks."""
    dbapi_connection.cursor().execute("PRAGMA secure_delete=OFF")


async def opened(db: Path, *, build_default: bool) -> Store:
    engine = make_engine(f"sqlite:///{db}")
    if not build_default:
        event.listen(engine.sync_engine, "connect", off_by_default, insert=True)
    await migrate(engine)
    return Store(engine)


@pytest.mark.parametrize("build_default", [True, False], ids=["this-sqlite", "insecure-build"])
async def test_forget_leaves_no_trace_of_the_chat_in_the_file(
    tmp_path: Path, build_default: bool
) -> None:
    db = tmp_path / "strikewire.db"
    store = await opened(db, build_default=build_default)
    try:
        # Other chats share the pages, so the forgotten rows sit among live ones.
        for n in range(OTHERS):
            await store.subscribe("telegram", str(1_000_000 + n), None, NOW)
        await store.subscribe("telegram", CHAT, ["metallist"], NOW, language="ru")
        await store.enqueue("item:a", "a", "", [], ["telegram"], NOW)
        rows = await store.claim("telegram", NOW, 100, 60)
        await store.mark_sent([(r.id, "55501") for r in rows], NOW)
        assert holds_chat(db)

        await store.forget("telegram", CHAT)
        assert await store.subscription("telegram", CHAT) is None
        # While the bot runs on...
        assert not holds_chat(db)
    finally:
        await store.close()
    # ...and once it has stopped.
    assert not holds_chat(db)
    again = await opened(db, build_default=build_default)
    try:
        assert await again.subscription("telegram", str(1_000_000)) is not None
    finally:
        await again.close()
