"""The `strikewire` command: run, check, preview, status, calendar, site.

Every subcommand takes `-c/--config` (default `config.yaml`, or
`$STRIKEWIRE_CONFIG`). Problems are printed as `path:line: message`, never as
a traceback; the exit status says whether all was well.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.cli.check import cmd_check, cmd_preview
from bot.cli.common import config_of
from bot.cli.outputs import cmd_calendar, cmd_site, cmd_status
from bot.cli.run import GC_YOUNG_THRESHOLD, cmd_run, event_loop_factory
from bot.config import ConfigError
from bot.privacy_cli import add_commands as add_privacy_commands

__all__ = ["GC_YOUNG_THRESHOLD", "event_loop_factory", "main", "parser"]


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

    add_privacy_commands(sub, plain, config_of)
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
