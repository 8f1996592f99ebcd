"""`strikewire status`, `calendar` and `site`: what the bot knows, written out."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.cli.common import catalog_of, config_of, key_fits, open_read_only
from bot.clock import SystemClock
from bot.config import Config, WebConfig
from bot.i18n import texts
from bot.pickets.ics import calendar_bytes
from bot.render import to_plain
from bot.status import status_text
from bot.store import DatabaseError, PrefixedState
from bot.web.mirror import MirrorError, publish
from bot.web.site import Site, saved_follow


async def _status(config: Config) -> str:
    store = await open_read_only(config)
    try:
        catalog = catalog_of(config).load()
        return await status_text(store, catalog, texts(config.language))
    finally:
        await store.close()


def cmd_status(args: argparse.Namespace) -> int:
    config = config_of(args)
    try:
        text = asyncio.run(_status(config))
    except DatabaseError as exc:
        print(f"strikewire: {exc}", file=sys.stderr)
        return 1
    print("\n".join(to_plain(text)))
    return 0


def cmd_calendar(args: argparse.Namespace) -> int:
    config = config_of(args)
    catalog = catalog_of(config).load()
    for problem in catalog.problems:
        print(problem.format(), file=sys.stderr)
    data = calendar_bytes(catalog.items.values(), SystemClock().now())
    if args.output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    try:
        Path(args.output).write_bytes(data)
    except OSError as exc:
        print(
            f"{args.output}: cannot write: {exc.strerror} (choose another -o path)", file=sys.stderr
        )
        return 1
    count = data.count(b"BEGIN:VEVENT")
    print(f"wrote {count} event(s) to {args.output}", file=sys.stderr)
    return 0


async def _site(config: Config, directory: Path, base_url: str) -> int:
    catalog = catalog_of(config).load()
    for problem in catalog.problems:
        print(problem.format(), file=sys.stderr)
    try:
        store = await open_read_only(config)
    except DatabaseError as exc:
        # Only the subscribe links come from the database: go on without them.
        print(f"strikewire: {exc}; the pages get no subscribe links", file=sys.stderr)
        follow = []
    else:
        try:
            follow = await saved_follow(PrefixedState(store, "web"))
        finally:
            await store.close()
    site = Site(catalog, config.language, base_url, follow)
    return publish(site, directory, SystemClock().now())


def _checked_base_url(value: str) -> str | None:
    """`--base-url` by web.base_url's own rule (an http(s) URL with a host), or None."""
    try:
        return WebConfig.model_validate({"base_url": value}).base_url
    except ValueError:  # pydantic's ValidationError is one
        return None


def cmd_site(args: argparse.Namespace) -> int:
    config = config_of(args)
    if not key_fits(config):
        return 1
    if args.base_url is not None and _checked_base_url(args.base_url) is None:
        print(
            "strikewire: --base-url must be an http(s) address with a host "
            "(e.g. --base-url https://news.example.org)",
            file=sys.stderr,
        )
        return 2
    base_url = args.base_url or (config.web.public_url if config.web is not None else None)
    if base_url is None:
        print(
            "strikewire: the feed needs the address the pages are published at "
            "(set web.base_url in the config, or pass --base-url https://…)",
            file=sys.stderr,
        )
        return 1
    directory = Path(args.output)
    try:
        count = asyncio.run(_site(config, directory, base_url.rstrip("/")))
    except MirrorError as exc:
        print(f"strikewire: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"{exc.filename or directory}: cannot write: {exc.strerror} (choose another -o folder)",
            file=sys.stderr,
        )
        return 1
    print(f"wrote {count} file(s) to {directory}", file=sys.stderr)
    return 0
