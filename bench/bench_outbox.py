"""Fan-out and drain on SQLite and PostgreSQL: `python -m bench.bench_outbox`.

Options: `--database sqlite|postgresql|both` (default both), `--subscribers N`
(default 1,000,000), `--drain N` (rows to drain, default 100,000).

Per database, in a fresh process of its own (so one database's peak RSS is
not counted in the other's): N subscribers are seeded in the database itself
(one INSERT … SELECT over a generated series; untimed), one item is enqueued
for all of them (targets: under 10 s, process under 300 MB), then the rows are
drained through a no-op adapter by the real delivery worker (reported in
rows/s). By default only the first 100,000 rows of the million are drained,
with the rest queued behind them (a claim reads its rows in order from the
queued rows' index, so the backlog behind does not slow it); `--drain
1000000` drains all of it, a few minutes on a 2-vCPU machine. Every tenth
subscriber follows only the item's campaign (a `subscriptions` row) instead
of everything, so both branches of the fan-out's condition are used; every
fifth has a language.

Right after the enqueue, the same rows are written once more into a bare
copy of the outbox table (no key, no index, no condition: one INSERT …
SELECT from the subscribers), timed as the floor: what the database alone
needs to write them, on this host, in this run. The enqueue over the floor is
the ratio the target is read by (docs/benchmarks.md), since both move with
the host's speed; the copy is dropped before the drain.

PostgreSQL is a throwaway server started the way the tests start theirs
(`tests/postgres.PostgresServer`: Debian's binaries, a temporary data
directory, fsync off). Peak RSS is this (the bot's) process, not the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import platform
import resource
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from bot.adapters.base import ChatGoneHandler, CommandHandler, Outgoing
from bot.clock import SystemClock
from bot.delivery.worker import Action, DeliveryWorker, Send
from bot.platforms import Platform
from bot.store import OutboxRow, Store, open_store

# The "1,000,000 rows in under 10 s", read against the floor in the
# same run (docs/benchmarks.md, "How the enqueue target is read").
ENQUEUE_RATIO_TARGET = 8.0
RSS_TARGET_MB = 300.0

_COLUMNS = "platform, chat_id, language, everything, active, source, created_at"
SEED = {
    "sqlite": f"""
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :count)
        INSERT INTO subscribers ({_COLUMNS})
        SELECT 'telegram', CAST(1000000 + i AS TEXT),
               CASE WHEN i % 5 = 0 THEN 'ru' END, i % 10 != 0, 1, 'chat', :now
        FROM n
    """,
    "postgresql": f"""
        INSERT INTO subscribers ({_COLUMNS})
        SELECT 'telegram', (1000000 + i)::text,
               CASE WHEN i % 5 = 0 THEN 'ru' END, i % 10 <> 0, true, 'chat', :now
        FROM generate_series(0, :count - 1) AS i
    """,
}
FLOOR = [
    "CREATE TABLE bench_floor AS SELECT * FROM outbox WHERE 1 = 0",
    """
    INSERT INTO bench_floor (message_key, item_id, variant, kind, platform, chat_id,
                             language, state, attempts, due_at, created_at)
    SELECT 'item:floor', 'floor', '', 'broadcast', platform, chat_id,
           language, 'queued', 0, :now, :now
    FROM subscribers WHERE active
    """,
]
SEED_SUBSCRIPTIONS = """
    INSERT INTO subscriptions (subscriber_id, campaign)
    SELECT id, 'metallist' FROM subscribers WHERE NOT everything
"""


class NoopAdapter:
    platform = Platform.TELEGRAM
    max_in_flight = 500

    def __init__(self) -> None:
        self.sent = 0

    async def start(self, on_command: CommandHandler, on_chat_gone: ChatGoneHandler) -> None:
        pass

    async def stop_receiving(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def health(self) -> str | None:
        return None

    def subscribe_link(self) -> str | None:
        return None

    async def send(self, chat_id: str, message: Outgoing) -> list[str]:
        self.sent += 1
        return ["1"]

    async def edit(self, chat_id: str, message_ids: Sequence[str], message: Outgoing) -> list[str]:
        return list(message_ids)

    async def take_back(
        self, chat_id: str, message_ids: Sequence[str], reason: str, fallback: Outgoing
    ) -> None:
        pass


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """The process's peak RSS since it started (or since `reset_peak_rss`)."""
    kb = _status_kb("VmHWM")
    if kb is None:
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024


def reset_peak_rss() -> bool:
    """Start counting the peak RSS again from now (Linux: clear_refs 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _status_kb("VmHWM") is not None


@dataclass
class Result:
    database: str
    subscribers: int
    seed_s: float
    enqueued: int
    enqueue_s: float
    floor_s: float  # the same rows into a bare copy of the table
    enqueue_peak_mb: float | None  # peak while enqueuing only, if the kernel can reset it
    peak_before_enqueue_mb: float
    drained: int
    drain_s: float
    drain_cpu_us: float
    timed_out: bool
    peak_mb: float  # the whole run: seeding, enqueue and drain


async def seed(store: Store, count: int) -> float:
    started = time.perf_counter()
    dialect = store.engine.dialect.name
    async with store.engine.begin() as conn:
        await conn.execute(text(SEED[dialect]), {"count": count, "now": time.time()})
        await conn.execute(text(SEED_SUBSCRIPTIONS))
    if dialect == "postgresql":
        # What autovacuum does soon after a bulk insert; the planner needs it.
        async with store.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


async def floor(store: Store) -> float:
    """Seconds to write the subscribers' rows into a bare copy of the outbox."""
    async with store.engine.begin() as conn:
        await conn.execute(text(FLOOR[0]))
    started = time.perf_counter()
    async with store.engine.begin() as conn:
        await conn.execute(text(FLOOR[1]), {"now": time.time()})
    took = time.perf_counter() - started
    async with store.engine.begin() as conn:
        await conn.execute(text("DROP TABLE bench_floor"))
    return took


async def measure(database: str, url: str, count: int, drain: int, drain_timeout: float) -> Result:
    store = await open_store(url)
    seed_s = await seed(store, count)
    print(f"[{database}] seeded {count:,} subscribers in {seed_s:.2f} s (not timed)", flush=True)

    before = peak_rss_mb()
    can_reset = reset_peak_rss()
    started = time.perf_counter()
    written = await store.enqueue(
        "item:bench", "bench", "", ["metallist"], ["telegram"], time.time()
    )
    enqueue_s = time.perf_counter() - started
    enqueued = written or 0
    enqueue_peak = peak_rss_mb() if can_reset else None
    shown = f"{enqueue_peak:.0f} MB" if enqueue_peak is not None else "n/a"
    print(
        f"[{database}] enqueue: {enqueued:,} rows in {enqueue_s:.2f} s "
        f"({enqueued / enqueue_s:,.0f} rows/s); peak RSS while enqueuing {shown}, "
        f"before it {before:.0f} MB",
        flush=True,
    )
    floor_s = await floor(store)
    print(
        f"[{database}] floor, the same rows into a bare table: {floor_s:.2f} s; "
        f"enqueue / floor {enqueue_s / floor_s:.2f}",
        flush=True,
    )

    adapter = NoopAdapter()
    action = Send(Outgoing("**Strike news**\n\nThe strike goes on."))

    async def compose(row: OutboxRow) -> Action:
        return action

    worker = DeliveryWorker(store, adapter, compose, SystemClock())
    target = min(drain, enqueued)
    started = time.perf_counter()
    cpu = time.process_time()
    worker.start(poll=0.05)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + drain_timeout
    while adapter.sent < target and loop.time() < deadline:  # noqa: ASYNC110 (polling a counter)
        await asyncio.sleep(0.05)
    timed_out = adapter.sent < target
    await worker.stop()
    drain_s = time.perf_counter() - started
    cpu = time.process_time() - cpu
    counts = await store.queue_counts()
    await store.close()
    sent = adapter.sent
    note = f" (the first {target:,} of {enqueued:,} queued: --drain)" if target < enqueued else ""
    if timed_out:
        note += f" (TIMED OUT after {drain_timeout:.0f} s)"
    print(
        f"[{database}] drain: {sent:,} rows in {drain_s:.2f} s ({sent / drain_s:,.0f} rows/s), "
        f"{cpu / max(sent, 1) * 1e6:.0f} µs CPU/row{note}; "
        f"states {dict(sorted(counts.items()))}; peak RSS {peak_rss_mb():.0f} MB",
        flush=True,
    )
    peak = max(before, enqueue_peak or 0.0, peak_rss_mb())
    return Result(
        database,
        count,
        seed_s,
        enqueued,
        enqueue_s,
        floor_s,
        enqueue_peak,
        before,
        sent,
        drain_s,
        cpu / max(sent, 1) * 1e6,
        timed_out,
        peak,
    )


def _child(database: str, url: str, count: int, drain: int, drain_timeout: float) -> Result:
    return asyncio.run(measure(database, url, count, drain, drain_timeout))


def in_fresh_process(
    database: str, url: str, count: int, drain: int, drain_timeout: float
) -> Result:
    """Run one database's measurement in a new process: its own peak RSS."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_child, database, url, count, drain, drain_timeout).result()


def run_sqlite(count: int, drain: int, drain_timeout: float) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        return in_fresh_process("sqlite", url, count, drain, drain_timeout)


def run_postgresql(count: int, drain: int, drain_timeout: float) -> Result:
    from tests.postgres import PostgresServer  # the tests' throwaway server

    server = PostgresServer()
    server.start()
    try:
        print(f"[postgresql] server {server.bindir} on 127.0.0.1:{server.port}", flush=True)
        return in_fresh_process("postgresql", server.url, count, drain, drain_timeout)
    finally:
        server.stop()


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def table(results: list[Result]) -> str:
    lines = [
        "| database | enqueue | floor | enqueue / floor | peak RSS | drain | target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        ratio = r.enqueue_s / r.floor_s
        enqueue_ok = ratio <= ENQUEUE_RATIO_TARGET and r.enqueued == r.subscribers
        rss_ok = r.peak_mb < RSS_TARGET_MB
        drained = f"{r.drained:,} of {r.enqueued:,}" if r.drained < r.enqueued else "all"
        cut = ", timed out" if r.timed_out else ""
        lines.append(
            f"| {r.database} | {r.enqueued:,} rows in {r.enqueue_s:.2f} s | "
            f"{r.floor_s:.2f} s | {ratio:.2f} | {r.peak_mb:.0f} MB | "
            f"{r.drained / r.drain_s:,.0f} rows/s "
            f"({drained}{cut}; {r.drain_cpu_us:.0f} µs CPU/row) | "
            f"enqueue ≤ {ENQUEUE_RATIO_TARGET:.1f} × floor: {verdict(enqueue_ok)}; "
            f"RSS < {RSS_TARGET_MB:.0f} MB: {verdict(rss_ok)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument(
        "--drain", type=int, default=100_000, help="rows to drain (default 100,000)"
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=1800.0, help="seconds (default 1800)"
    )
    args = parser.parse_args()
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"machine: {platform.machine()} {python}; {args.subscribers:,} subscribers", flush=True)
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results = []
    for database in databases:
        run = run_sqlite if database == "sqlite" else run_postgresql
        results.append(run(args.subscribers, args.drain, args.drain_timeout))
    print()
    print(table(results))


if __name__ == "__main__":
    main()
