"""The `strikewire` command: run, check, preview, status, calendar, site.

Every subcommand takes `-c/--config` (default `config.yaml`, or
`$STRIKEWIRE_CONFIG`). Problems are printed as `path:line: message`, never as
a traceback; the exit status says whether all was well.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.adapters.base import AdapterStartError
from bot.app import App
from bot.clock import SystemClock
from bot.config import Config, ConfigError, WebConfig, config_path_from, load_config
from bot.config_secrets import config_warnings
from bot.content.catalog import Catalog
from bot.content.items import Item
from bot.content.loader import parse_file
from bot.content.notices import time_warnings
from bot.delivery.dispatcher import Dispatcher
from bot.i18n import texts
from bot.logs import setup_logging
from bot.pickets.ics import calendar_bytes
from bot.privacy.cli import add_commands as add_privacy_commands
from bot.privacy.encryption import check_key, stored_check
from bot.problems import Problem
from bot.render import to_matrix, to_plain, to_telegram
from bot.render.compose import item_message
from bot.render.parts import part_limit
from bot.status import status_text
from bot.store import DatabaseError, PrefixedState, Store, open_store
from bot.store.database import make_engine, sqlite_file
from bot.web.mirror import MirrorError, publish
from bot.web.server import WebStartError
from bot.web.site import Site, saved_follow

GC_YOUNG_THRESHOLD = 20_000
# `strikewire run`'s status when the console's standard output closed.
OUTPUT_CLOSED = 141


def _catalog(config: Config, directory: Path | None = None) -> Catalog:
    return Catalog(
        directory or config.updates_path,
        config.zone,
        config.language,
        part_limit(config.broadcast.max_parts),
    )


def _config(args: argparse.Namespace) -> Config:
    return load_config(config_path_from(args.config), required=args.config is not None)


async def _open(config: Config) -> Store:
    """The store, opened read-only with the config's privacy key and retention:
    only `run` and `encrypt` migrate or seal, holding the database's lock."""
    privacy = config.privacy
    return await open_store(
        config.database_url,
        privacy.keyring,
        keep_inactive=privacy.keep_inactive_subscribers,
        read_only=True,
    )


async def _run(config: Config) -> int:
    app = App(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await app.start()
    except (DatabaseError, AdapterStartError, WebStartError) as exc:
        print(f"strikewire: {exc}", file=sys.stderr)
        await app.stop()
        return 1
    # What start-up built lives as long as the process: keep the collector off
    # it, or each full collection stalls the loop for 50-150 ms and the stall
    # draws a 429 from Telegram (measured by bench.bench_pipeline).
    gc.freeze()
    # A send's objects live for its round trip (tens of ms); at the default
    # 700 a paid broadcast ran ~80 young collections a second, each walking
    # and promoting sends still in flight: 0.67 s of 8 s of CPU for 20,000
    # messages, 0.14 s at 20,000 (bench.bench_pipeline). Few objects form
    # cycles, so the garbage held back is small.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    waiters = {asyncio.ensure_future(stop.wait())}
    console = app.console
    if console is not None:
        waiters.add(asyncio.ensure_future(console.finished.wait()))
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    closed = console is not None and console.output_closed
    if not stop.is_set() and console is not None and not console.interactive and not closed:
        # A script was piped in: let what it caused be delivered before exiting.
        await app.drain(timeout=60.0)
    await app.stop()
    # Nobody read the rest: the status a shell gives a program a closed pipe
    # stopped (128 + SIGPIPE); what was not printed stays queued.
    return OUTPUT_CLOSED if closed else 0


def cmd_run(args: argparse.Namespace) -> int:
    config = _config(args)
    interactive_console = config.telegram is None and config.matrix is None and sys.stdin.isatty()
    setup_logging(args.log_level or ("WARNING" if interactive_console else "INFO"))
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(_run(config))


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's event loop where it is installed (not on Windows): the same
    asyncio API, with its I/O and timers in C. The paid Telegram broadcast
    costs 7-10 % less CPU per message with it (docs/benchmarks.md)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def _key_refused(config: Config) -> str | None:
    """Why the configured privacy key does not fit the database, if it does not
    (nothing is written: no database is created, none is migrated)."""
    if _no_database_yet(config):
        return None
    return asyncio.run(_key_problem(config.database_url, config))


def _no_database_yet(config: Config) -> bool:
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


def cmd_check(args: argparse.Namespace) -> int:
    config = _config(args)
    for said in config_warnings(config_path_from(args.config), config):
        print(said, file=sys.stderr)
    refused = _key_refused(config)
    if refused is not None:
        print(f"strikewire: {refused}", file=sys.stderr)
        return 1
    catalog = _catalog(config).load()
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
    config = _config(args)
    refused = _key_refused(config)
    if refused is not None:
        print(f"strikewire: {refused}", file=sys.stderr)
        return 1
    path = Path(args.file)
    if not path.is_file():
        print(f"{path}: no such file", file=sys.stderr)
        return 1
    catalog = _catalog(config, path.parent).load()
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
    effect = (
        None
        if _no_database_yet(config)
        else asyncio.run(_followups_preview(config, catalog.everything().get(item.id, item)))
    )
    if effect:
        print(f"── if published now ──\n{effect}")
    return 0


async def _followups_preview(config: Config, item: Item) -> str | None:
    """What publishing this file would do to messages already sent, or None
    when nothing of it was sent (or there is no database yet)."""
    try:
        store = await _open(config)
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


async def _status(config: Config) -> str:
    store = await _open(config)
    try:
        catalog = _catalog(config).load()
        return await status_text(store, catalog, texts(config.language))
    finally:
        await store.close()


def cmd_status(args: argparse.Namespace) -> int:
    config = _config(args)
    try:
        text = asyncio.run(_status(config))
    except DatabaseError as exc:
        print(f"strikewire: {exc}", file=sys.stderr)
        return 1
    print("\n".join(to_plain(text)))
    return 0


def cmd_calendar(args: argparse.Namespace) -> int:
    config = _config(args)
    catalog = _catalog(config).load()
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
    catalog = _catalog(config).load()
    for problem in catalog.problems:
        print(problem.format(), file=sys.stderr)
    try:
        store = await _open(config)
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
    config = _config(args)
    refused = _key_refused(config)
    if refused is not None:
        print(f"strikewire: {refused}", file=sys.stderr)
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


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="strikewire", description=__doc__.splitlines()[0])
    subs = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def sub(name: str, help_text: str) -> argparse.ArgumentParser:
        p = subs.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "-c", "--config", help="config file (default: config.yaml or $STRIKEWIRE_CONFIG)"
        )
        return p

    run = sub("run", "run the bot (the console chat when no platform is configured)")
    run.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.set_defaults(func=cmd_run)
    sub("check", "validate the config and every update file").set_defaults(func=cmd_check)
    preview = sub("preview", "show an update file exactly as it would be sent")
    preview.add_argument("file", help="the update file, e.g. updates/metallist-strike.md")
    preview.add_argument("--platform", choices=["telegram", "matrix", "plain"], default="plain")
    preview.set_defaults(func=cmd_preview)
    sub("status", "subscribers, queue and problems").set_defaults(func=cmd_status)
    calendar = sub("calendar", "write the pickets as an iCalendar (.ics) file")
    calendar.add_argument("-o", "--output", help="the file to write (default: standard output)")
    calendar.set_defaults(func=cmd_calendar)
    site = sub("site", "write the public web pages, feed and calendar as static files")
    site.add_argument("-o", "--output", required=True, help="the folder to write them into")
    site.add_argument(
        "--base-url", help="the address they are published at (default: web.base_url)"
    )
    site.set_defaults(func=cmd_site)

    def plain(name: str, help_text: str) -> argparse.ArgumentParser:
        return subs.add_parser(name, help=help_text, description=help_text)

    add_privacy_commands(sub, plain, _config)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem.format(), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
