"""`strikewire run`: start the bot and keep it running until a signal (or the
piped-in console script) ends it."""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
from collections.abc import Callable

from bot.adapters.base import AdapterStartError
from bot.app import App
from bot.cli.common import config_of
from bot.config import Config
from bot.logs import setup_logging
from bot.store import DatabaseError
from bot.web.server import WebStartError

GC_YOUNG_THRESHOLD = 20_000
# `strikewire run`'s status when the console's standard output closed.
OUTPUT_CLOSED = 141


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
    config = config_of(args)
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
