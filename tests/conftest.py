"""Shared fixtures: databases (SQLite and a real PostgreSQL), update folders, configs."""

from __future__ import annotations

import itertools
import os
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from hypothesis import settings

from bot.config import Config, DatabaseConfig
from bot.store import Store, open_store
from tests.postgres import PostgresServer, postgres_server

__all__ = ["postgres_server"]

# CI runs every property and state-machine test from a fixed seed, so a red
# run can be repeated; by hand they explore new examples each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

_db_numbers = itertools.count(1)


async def fresh_postgres_url(server: PostgresServer) -> str:
    """A new, empty database on the shared test server."""
    name = f"test_{next(_db_numbers)}"
    conn = await asyncpg.connect(f"postgresql://strikewire@127.0.0.1:{server.port}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"postgresql://strikewire@127.0.0.1:{server.port}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using it runs twice: on a SQLite file and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'strikewire.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return await fresh_postgres_url(server)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await open_store(database_url)
    try:
        yield opened
    finally:
        await opened.close()


def write_update(folder: Path, name: str, front: str, body: str = "Body text.") -> Path:
    """Write `folder/name` with YAML front matter and a body."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"---\n{textwrap.dedent(front).strip()}\n---\n{body}\n", encoding="utf-8")
    return path


def make_config(tmp_path: Path, database_url: str | None = None, **overrides: object) -> Config:
    values: dict[str, object] = {
        "updates_dir": tmp_path / "updates",
        "database": DatabaseConfig(url=database_url or f"sqlite:///{tmp_path / 'bot.db'}"),
        "timezone": "UTC",
        "base_dir": tmp_path,
    }
    values.update(overrides)
    return Config.model_validate(values)
