"""Answers during a reload: `python -m bench.bench_reload [--files N]`.

Writes N update files (bench.bench_load's mix: news, appeals, pickets,
translations) into `updates/` of a running App (SQLite, a recording adapter),
then times `/address ID` as a chat would see it: a thread standing in for
the platform sends one command every `--every` seconds and measures from
sending to the answer, so a stalled event loop counts in full. Three phases,
in one run on one machine:

- quiet: no reload (the baseline);
- reload: `App.reload()` under way (reading in a worker thread, as the bot does);
- on the loop: the same `App.reload()` with the folder read on the event
  loop, as before issue 25.

Target: with 10,000 files, every answer during a reload in under 1 s; read
as a ratio too, the slowest answer during a reload over the median quiet one.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import date
from pathlib import Path

from bench.bench_load import write_files
from bot.app import App
from bot.config import Config, DatabaseConfig
from bot.content.catalog import Changes
from tests.recording import RecordingAdapter

COMMAND = "/address appeal-6"


class Asker:
    """A platform in its own thread: asks every `every` seconds, until told to
    stop, how long each answer took (seconds, from asking to the answer)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, adapter: RecordingAdapter, every: float):
        self.loop, self.adapter, self.every = loop, adapter, every
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            future: Future[list[str]] = asyncio.run_coroutine_threadsafe(
                self.adapter.say("1", COMMAND), self.loop
            )
            answers = future.result(timeout=600)
            assert answers and "Uralsk" in answers[0], answers
            took = time.perf_counter() - started
            self.latencies.append(took)
            self._stop.wait(max(0.0, self.every - took))

    def __enter__(self) -> Asker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    async def join(self) -> list[float]:
        self._stop.set()
        await asyncio.to_thread(self._thread.join, 600)
        return self.latencies


async def phase(
    loop: asyncio.AbstractEventLoop,
    adapter: RecordingAdapter,
    every: float,
    work: Callable[[], object],
) -> tuple[list[float], float]:
    """Latencies of the answers asked while `work()` (awaited if a coroutine) runs."""
    with Asker(loop, adapter, every) as asker:
        await asyncio.sleep(every * 2)  # a first answer or two before the work starts
        started = time.perf_counter()
        result = work()
        if asyncio.iscoroutine(result):
            await result
        took = time.perf_counter() - started
        await asyncio.sleep(every * 2)
        return await asker.join(), took


def summary(name: str, latencies: list[float], baseline: float) -> str:
    worst = max(latencies)
    return (
        f"{name:<12} answers={len(latencies):3d} "
        f"median={statistics.median(latencies) * 1000:7.1f} ms  max={worst * 1000:7.1f} ms  "
        f"max/quiet median={worst / baseline:6.1f}x"
    )


async def run(root: Path, files: int, every: float) -> None:
    updates = root / "updates"
    updates.mkdir()
    write_files(updates, files)
    config = Config.model_validate(
        {
            "updates_dir": updates,
            "base_dir": root,
            "timezone": "UTC",
            "database": DatabaseConfig(url=f"sqlite:///{root / 'bot.db'}"),
        }
    )
    adapter = RecordingAdapter()
    app = App(config, adapters=[adapter], watch=False)
    await app.start()
    loop = asyncio.get_running_loop()
    try:
        quiet, _ = await phase(loop, adapter, every, lambda: asyncio.sleep(3.0))
        changed = updates / "news-1.md"
        changed.write_text(changed.read_text().replace("continues", "goes on"))
        during, reload_took = await phase(loop, adapter, every, app.reload)
        changed.write_text(changed.read_text().replace("goes on", "continues"))

        async def on_the_loop() -> Changes:
            return app.catalog.reload()  # reading the folder as before issue 25

        app.catalog.reload_async = on_the_loop  # type: ignore[method-assign]
        blocking, blocking_took = await phase(loop, adapter, every, app.reload)
    finally:
        await app.stop()
    baseline = statistics.median(quiet)
    print(
        f"machine: {platform.machine()} {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()}; date {date.today()}"
    )
    print(f"files: {files} in updates/ ({len(app.catalog.items)} items); command: {COMMAND}")
    print(
        f"App.reload with the folder read in a thread: {reload_took:.2f} s; "
        f"read on the loop: {blocking_took:.2f} s"
    )
    print(summary("quiet", quiet, baseline))
    print(summary("reload", during, baseline))
    print(summary("on the loop", blocking, baseline))
    verdict = "met" if max(during) < 1.0 else "NOT met"
    print(f"target (every answer during a reload < 1 s): {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--every", type=float, default=0.05, help="seconds between commands")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(Path(tmp), args.files, args.every))


if __name__ == "__main__":
    main()
