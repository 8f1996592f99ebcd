"""`strikewire check` and `strikewire preview`: what the organisers run on
the update files before they go out."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.cli.common import catalog_of, config_of, key_fits, no_database_yet, open_read_only
from bot.cli.media_preview import media_preview
from bot.cli.upload_limit import over_limit, saved_upload_limit
from bot.clock import SystemClock
from bot.config import Config, config_path_from
from bot.config_secrets import config_warnings
from bot.content.items import Item
from bot.content.loader import parse_file
from bot.content.notices import time_warnings
from bot.delivery.dispatcher import Dispatcher
from bot.i18n import texts
from bot.problems import Problem
from bot.render import to_matrix, to_plain, to_telegram
from bot.render.compose import item_message
from bot.store import DatabaseError


def cmd_check(args: argparse.Namespace) -> int:
    config = config_of(args)
    for said in config_warnings(config_path_from(args.config), config):
        print(said, file=sys.stderr)
    if not key_fits(config):
        return 1
    catalog = catalog_of(config).load()
    limit = asyncio.run(saved_upload_limit(config))
    if limit is not None:
        catalog.problems.extend(over_limit(catalog.items.values(), limit))
    for problem in catalog.problems:
        print(problem.format())
    warnings = catalog.warnings + time_warnings(
        catalog.items.values(), SystemClock().now(), config.zone
    )
    for warning in warnings:
        print(warning.format())
    noted = f" ({len(warnings)} warning(s))" if warnings else ""
    if catalog.problems:
        print(
            f"{len(catalog.problems)} problem(s); {len(catalog.items)} update(s) valid{noted}",
            file=sys.stderr,
        )
        return 1
    print(
        f"ok: config and {len(catalog.items)} update(s) in {config.updates_path} are valid{noted}"
    )
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    config = config_of(args)
    if not key_fits(config):
        return 1
    path = Path(args.file)
    if not path.is_file():
        print(f"{path}: no such file", file=sys.stderr)
        return 1
    catalog = catalog_of(config, path.parent).load()
    problems = [p for p in catalog.problems if p.path.name == path.name]
    item = catalog.by_file(path.name)
    if item is None and not problems:
        # A name the folder reader skips (hidden, not .md): read it on its own.
        parsed = parse_file(path, path.read_bytes(), config.zone, config.language)
        problems = list(parsed.problems)
        item = parsed.item
        if parsed.translation is not None:
            problems.append(
                Problem(
                    path,
                    1,
                    "is a translation whose base file is not "
                    "read from this folder (name both NAME.md and NAME.LANG.md)",
                )
            )
    if problems or item is None:
        for problem in problems:
            print(problem.format())
        return 1
    markdown = item_message(item, texts(item.lang))
    parts: list[str]
    if args.platform == "telegram":
        parts = to_telegram(markdown)
    elif args.platform == "matrix":
        parts = [
            f"body:\n{p.body}\n\nformatted_body:\n{p.formatted_body}" for p in to_matrix(markdown)
        ]
    else:
        parts = to_plain(markdown)
    for number, part in enumerate(parts, 1):
        print(f"── {args.platform} part {number}/{len(parts)} ({len(part)} characters) ──")
        print(part)
    if item.media:
        print(media_preview(item.media, markdown))
    effect = (
        None
        if no_database_yet(config)
        else asyncio.run(_followups_preview(config, catalog.everything().get(item.id, item)))
    )
    if effect:
        print(f"── if published now ──\n{effect}")
    return 0


async def _followups_preview(config: Config, item: Item) -> str | None:
    """What publishing this file would do to messages already sent, or None
    when nothing of it was sent (or there is no database yet)."""
    try:
        store = await open_read_only(config)
    except DatabaseError as exc:
        print(f"strikewire: {exc}; not shown: what publishing would change", file=sys.stderr)
        return None
    try:
        sent = await store.sent_chats(item.id)
        if not sent:
            return None
        if item.withdrawn is not None:
            return f"withdraws it: takes back the messages sent to {sent} chat(s)"
        dispatcher = Dispatcher(store, [], config.broadcast.max_age)
        effect = await dispatcher.corrections(item, SystemClock().now(), dry_run=True)
    finally:
        await store.close()
    if not effect.edits:
        return f"changes nothing that {sent} chat(s) see (no edits)"
    languages = len(effect.languages)
    text = f"edits {effect.edits} message(s) in {languages} language(s)"
    if effect.notices:
        text += f", sends {effect.notices} notice(s)"
    return text
