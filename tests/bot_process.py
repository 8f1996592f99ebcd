"""A bot in its own OS process for the crash, restart and two-process tests.

`python -m tests.bot_process TMP URL LOG [options]` runs the real `App` on the
updates in TMP/updates and the database at URL, with an adapter that takes
time like a platform (latency, jitter, a rate, random 429s and 502s, seeded)
and appends each chat it delivered to to LOG (fsynced, so a SIGKILL cannot
lose a line). `--crash-after N` kills the process with SIGKILL right after
its Nth delivery, before the delivery worker has recorded it. The process
exits by itself once the shared queue is empty (or after `--max-seconds`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.adapters.base import Outgoing
from bot.app import App
from bot.config import Config, DatabaseConfig, DeliveryConfig
from bot.delivery.worker import Backoff
from tests.recording import RecordingAdapter, Timing


class FileAdapter(RecordingAdapter):
    """A `RecordingAdapter` whose deliveries also go to a log file."""

    def __init__(self, log: Path, crash_after: int, max_in_flight: int, timing: Timing) -> None:
        super().__init__("telegram", max_in_flight, timing)
        self.log = log
        self.crash_after = crash_after

    async def send(self, chat_id: str, message: Outgoing) -> list[str]:
        ids = await super().send(chat_id, message)
        with self.log.open("a") as f:
            f.write(chat_id + "\n")
            f.flush()
            os.fsync(f.fileno())
        if len(self.sent) == self.crash_after:
            os.kill(os.getpid(), signal.SIGKILL)  # delivered, but not yet recorded
        return ids


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("tmp", type=Path)
    parser.add_argument("url")
    parser.add_argument("log", type=Path)
    parser.add_argument("--crash-after", type=int, default=0)
    parser.add_argument("--max-in-flight", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.002)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--per-second", type=float, default=0.0)
    parser.add_argument("--retry-after-rate", type=float, default=0.0)
    parser.add_argument("--transient-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lease", type=float, default=300.0)
    parser.add_argument("--max-seconds", type=float, default=20.0)
    return parser.parse_args(argv)


async def main(args: argparse.Namespace) -> None:
    config = Config(
        updates_dir=args.tmp / "updates",
        base_dir=args.tmp,
        timezone="UTC",
        database=DatabaseConfig(url=args.url),
        delivery=DeliveryConfig.model_validate({"lease": f"{args.lease:g}s"}),
    )
    timing = Timing(
        latency=args.latency,
        jitter=args.jitter,
        per_second=args.per_second,
        retry_after_rate=args.retry_after_rate,
        retry_after=0.1,
        transient_rate=args.transient_rate,
        seed=args.seed,
    )
    adapter = FileAdapter(args.log, args.crash_after, args.max_in_flight, timing)
    app = App(
        config,
        adapters=[adapter],
        watch=False,
        backoff=Backoff(first=0.05, cap=0.2, jitter=0.0, max_attempts=100),
    )
    await app.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.max_seconds
    while loop.time() < deadline:  # until the shared queue is empty
        if await app.store.pending() == 0:
            break
        await asyncio.sleep(0.1)
    await app.stop()


if __name__ == "__main__":
    asyncio.run(main(parse(sys.argv[1:])))
