"""The Telegram send limiter alone: `python -m bench.bench_limiter [--slots N] [--batch B]`.

128 senders (a paid broadcast's sends in flight) take N slots from one
`SendLimiter` at 1,000 a second, with no network, on the event loop
`strikewire run` uses. Reports the CPU per slot. `--batch` overrides how many
slots the dispatcher grants per wake-up (the limiter picks 16 at 1,000/s), to
show what its wake-ups cost on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import time

from bot.adapters.telegram_limiter import LATE_WAKEUP, SendLimiter
from bot.cli import event_loop_factory

SENDERS = 128
RATE = 1000.0


async def run(slots: int, batch: int | None) -> tuple[float, float, int]:
    limiter = SendLimiter(per_second=RATE, private_interval=1.0, group_interval=3.0)
    if batch is not None:
        limiter._batch = batch
        limiter._burst = batch + RATE * LATE_WAKEUP
    chats = list(range(1, slots + 1))

    async def sender() -> None:
        while chats:
            await limiter.slot(str(chats.pop()))

    gc.collect()
    gc.freeze()
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await limiter.close()
    return slots / wall, 1e6 * cpu / slots, limiter._batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slots", type=int, default=6000)
    parser.add_argument("--batch", type=int, help="slots per wake-up (default: the limiter's)")
    args = parser.parse_args()
    with asyncio.Runner(loop_factory=event_loop_factory()) as loop:
        rate, cpu, batch = loop.run(run(args.slots, args.batch))
    print(
        f"limiter at {RATE:.0f}/s, {SENDERS} senders, {batch} slots per wake-up, "
        f"Python {platform.python_version()}: {rate:.0f} slots/s, {cpu:.1f} µs of CPU per slot"
    )


if __name__ == "__main__":
    main()
