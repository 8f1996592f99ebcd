"""What the `strikewire` subcommands share: the config, the catalog, the store
opened read-only, and whether the privacy key fits the database."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.config import Config, config_path_from, load_config
from bot.content.catalog import Catalog
from bot.media.files import MediaFiles
from bot.render.parts import part_limit
from bot.store import DatabaseError, Store, open_store
from bot.store.database import make_engine, sqlite_file
from bot.store.sealing import check_key, stored_check


def catalog_of(config: Config, directory: Path | None = None) -> Catalog:
    return Catalog(
        directory or config.updates_path,
        config.zone,
        config.language,
        part_limit(config.broadcast.max_parts),
        media_files=MediaFiles(config.media_cache_path),
    )


def config_of(args: argparse.Namespace) -> Config:
    return load_config(config_path_from(args.config), required=args.config is not None)


async def open_read_only(config: Config) -> Store:
    """The store, opened read-only with the config's privacy key and retention:
    only `run` and `encrypt` migrate or seal, holding the database's lock."""
    privacy = config.privacy
    return await open_store(
        config.database_url,
        privacy.keyring,
        keep_inactive=privacy.keep_inactive_subscribers,
        read_only=True,
    )


def key_refused(config: Config) -> str | None:
    """Why the configured privacy key does not fit the database, if it does not
    (nothing is written: no database is created, none is migrated)."""
    if no_database_yet(config):
        return None
    return asyncio.run(_key_problem(config.database_url, config))


def no_database_yet(config: Config) -> bool:
    """A SQLite database whose file is not there (yet): nothing to read from it."""
    url = config.database_url
    path = sqlite_file(url)
    return url.startswith("sqlite:") and (path is None or not path.exists())


async def _key_problem(url: str, config: Config) -> str | None:
    engine = make_engine(url, read_only=True)
    try:
        stored = await stored_check(engine)
    except DatabaseError:
        return None  # unreachable: the subcommand says so itself if it needs it
    finally:
        await engine.dispose()
    try:
        check_key(stored, config.privacy.keyring)
    except DatabaseError as exc:
        return str(exc)
    return None
