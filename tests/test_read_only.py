"""Read-only means read-only: `status`, `preview`, `site` and `check` never
write to the database. A database that needs migrating or sealing is named,
with the command that does it, and left as it was; the running bot keeps
finding its chats. Sealing happens in `run` or `encrypt`, never beside a
running bot (on PostgreSQL too)."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from bot.privacy.keys import Keyring, new_key, read_key
from bot.store import DatabaseError, open_store
from bot.store.database import (
    _alembic_config,
    hold_postgres_lock,
    make_engine,
    release_postgres_lock,
)
from tests.conftest import fresh_postgres_url, write_update
from tests.postgres import PostgresServer
from tests.test_delivery import subprocess_env

CHAT = "555000111"
READ_ONLY = ("status", "check", "preview updates/news.md", "site -o site")


def strikewire(
    tmp_path: Path, words: str, key: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = subprocess_env()
    if key is not None:
        env["STRIKEWIRE_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "bot", *words.split(), "-c", str(tmp_path / "config.yaml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        input="",
        check=False,
        cwd=tmp_path,
    )


def setup(tmp_path: Path, url: str, *, key: bool) -> None:
    privacy = "privacy:\n  key: ${STRIKEWIRE_KEY}\n" if key else ""
    (tmp_path / "config.yaml").write_text(
        f"database:\n  url: {url}\nweb:\n  base_url: https://news.example.org\n{privacy}"
    )
    write_update(tmp_path / "updates", "news.md", "kind: news\ntitle: News\ndate: 2026-01-05")


async def everything_in(url: str) -> list[tuple[object, ...]]:
    """Every row of every table, through a connection of its own."""
    engine = make_engine(url, read_only=True)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: sorted(c.dialect.get_table_names(c)))
            rows: list[tuple[object, ...]] = []
            for name in names:
                found = await conn.execute(text(f'SELECT * FROM "{name}"'))
                rows += sorted((name, *map(str, row)) for row in found)
            return rows
    finally:
        await engine.dispose()


def files_of(url: str) -> dict[str, str]:
    """The SQLite database's files and a hash of each (none for PostgreSQL)."""
    if not url.startswith("sqlite:///"):
        return {}
    path = Path(url.removeprefix("sqlite:///"))
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in path.parent.glob(path.name + "*")
        # -shm is a reader's index and an empty -wal holds nothing: any reader makes them.
        if not p.name.endswith((".lock", "-shm"))
        and (p.stat().st_size or not p.name.endswith("-wal"))
    }


async def test_a_key_added_to_the_config_seals_nothing_until_run_or_encrypt(
    tmp_path: Path, database_url: str
) -> None:
    running = await open_store(database_url)  # the bot, running without a key
    try:
        await running.subscribe("telegram", CHAT, None, time.time())
        setup(tmp_path, database_url, key=True)
        before, files = await everything_in(database_url), files_of(database_url)
        for words in READ_ONLY:
            done = await asyncio.to_thread(strikewire, tmp_path, words, new_key())
            if words == "status":
                assert done.returncode == 1
                [line] = done.stderr.strip().splitlines()
                assert line.startswith("strikewire: the database is not encrypted yet")
                assert "`strikewire encrypt`" in line and "nothing was changed" in line
        assert await everything_in(database_url) == before
        assert files_of(database_url) == files
        # The running bot still finds the chat: /stop and /forget work.
        found = await running.subscription("telegram", CHAT)
        assert found is not None and found.active
        await running.forget("telegram", CHAT)
        assert await running.subscription("telegram", CHAT) is None
    finally:
        await running.close()


def _to_first_revision(connection: Connection) -> None:
    command.upgrade(_alembic_config(connection), "0001")


async def test_an_old_schema_is_named_with_the_command_that_migrates_it(
    tmp_path: Path, database_url: str
) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_to_first_revision)
    finally:
        await engine.dispose()
    setup(tmp_path, database_url, key=False)
    before = await everything_in(database_url)
    for words in READ_ONLY:
        done = await asyncio.to_thread(strikewire, tmp_path, words)
        if words == "status":
            assert done.returncode == 1
            assert done.stderr.startswith("strikewire: the database needs migrating (schema 0001")
            assert "`strikewire run`" in done.stderr
    assert await everything_in(database_url) == before


def test_status_before_the_bot_ever_ran_makes_no_database(tmp_path: Path) -> None:
    setup(tmp_path, "sqlite:///data/bot.db", key=False)
    done = strikewire(tmp_path, "status")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"strikewire: no database at {tmp_path / 'data' / 'bot.db'} yet: "
        "start the bot once (`strikewire run`) to make it"
    )
    assert not (tmp_path / "data").exists()
    sqlite3.connect(tmp_path / "empty.db").close()  # a file with no tables
    setup(tmp_path, "sqlite:///empty.db", key=False)
    done = strikewire(tmp_path, "status")
    assert "no tables yet: start the bot once (`strikewire run`)" in done.stderr
    assert (tmp_path / "empty.db").stat().st_size == 0


async def test_a_read_only_store_cannot_write(tmp_path: Path, database_url: str) -> None:
    await (await open_store(database_url)).close()  # made by the bot
    store = await open_store(database_url, read_only=True)
    try:
        assert await store.subscriber_counts() == {}
        # SQLite: "attempt to write a readonly database"; PostgreSQL: "read-only transaction".
        with pytest.raises(DBAPIError, match=r"(?i)read-?only"):
            await store.subscribe("telegram", CHAT, None, time.time())
    finally:
        await store.close()


async def test_on_postgresql_encrypt_and_a_running_bot_exclude_each_other(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = await fresh_postgres_url(postgres_server)
    running = await open_store(url)  # the bot, running without a key
    try:
        await running.subscribe("telegram", CHAT, None, time.time())
        setup(tmp_path, url, key=True)
        before = await everything_in(url)
        done = await asyncio.to_thread(strikewire, tmp_path, "encrypt", new_key())
        assert done.returncode == 1
        assert done.stderr.strip() == (
            "strikewire: a strikewire is running on this database: "
            "stop every `strikewire run` first; nothing was changed"
        )
        assert await everything_in(url) == before
        assert await running.subscription("telegram", CHAT) is not None
    finally:
        await running.close()
    key = new_key()
    done = await asyncio.to_thread(strikewire, tmp_path, "encrypt", key)
    assert done.returncode == 0, done.stderr
    # And while encrypt (or rotate-key, decrypt) works, no bot starts.
    engine = make_engine(url)
    lock = await hold_postgres_lock(engine, alone=True)
    try:
        with pytest.raises(DatabaseError, match="is changing this database"):
            await open_store(url, Keyring(read_key(key)))
    finally:
        await release_postgres_lock(lock)
        await engine.dispose()
    reopened = await open_store(url, Keyring(read_key(key)))
    await reopened.close()
