"""Fan-out and drain on SQLite: `python -m bench.bench_outbox [--subscribers N]`.

Enqueues one item for N subscribers (target: 100,000 in under 2 s, process
under 200 MB), then drains the rows through a no-op adapter with the real
delivery worker (target: at least 5,000 rows/s).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import resource
import tempfile
import time
from pathlib import Path

from bot.adapters.base import ChatGoneHandler, CommandHandler, Outgoing
from bot.clock import SystemClock
from bot.delivery import DeliveryWorker
from bot.store import open_store
from bot.store.schema import subscribers


class NoopAdapter:
    platform = "telegram"
    max_in_flight = 500

    def __init__(self) -> None:
        self.sent = 0

    async def start(self, on_command: CommandHandler, on_chat_gone: ChatGoneHandler) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, chat_id: str, message: Outgoing) -> list[str]:
        self.sent += 1
        return ["1"]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(count: int, folder: Path) -> None:
    store = await open_store(f"sqlite:///{folder / 'bench.db'}")
    now = time.time()
    async with store.engine.begin() as conn:
        await conn.execute(
            subscribers.insert(),
            [
                {
                    "platform": "telegram",
                    "chat_id": str(1_000_000 + n),
                    "language": None,
                    "everything": True,
                    "active": True,
                    "source": "chat",
                    "created_at": now,
                }
                for n in range(count)
            ],
        )
    started = time.perf_counter()
    written = await store.enqueue(
        "item:bench", "bench", "", ["metallist"], ["telegram"], time.time()
    )
    took = time.perf_counter() - started
    print(
        f"enqueue: {written:,} rows in {took:.2f} s ({(written or 0) / took:,.0f} rows/s); "
        f"peak RSS {rss_mb():.0f} MB"
    )

    adapter = NoopAdapter()
    message = Outgoing("**Strike news**\n\nThe strike goes on.")
    worker = DeliveryWorker(store, adapter, lambda row: message, SystemClock())
    started = time.perf_counter()
    cpu = time.process_time()
    worker.start(poll=0.05)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 300
    while adapter.sent < count and loop.time() < deadline:  # noqa: ASYNC110 (polling a counter)
        await asyncio.sleep(0.05)
    await worker.stop()
    took = time.perf_counter() - started
    cpu = time.process_time() - cpu
    counts = await store.queue_counts()
    print(
        f"drain: {adapter.sent:,} rows in {took:.2f} s ({adapter.sent / took:,.0f} rows/s), "
        f"{cpu / max(adapter.sent, 1) * 1e6:.0f} µs CPU/row; states {dict(counts)}; "
        f"peak RSS {rss_mb():.0f} MB"
    )
    await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100_000)
    args = parser.parse_args()
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"machine: {platform.machine()} {python}")
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.subscribers, Path(tmp)))


if __name__ == "__main__":
    main()
