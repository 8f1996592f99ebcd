"""Randomised crashes: bots in their own processes, killed with SIGKILL at
random points of a broadcast whose sends take random time and fail at random
(429s and 502s), restarted, on SQLite (one process at a time) and on
PostgreSQL (two processes sharing the queue). At the end every chat has the
item, a chat got it twice only when a kill caught its send before it was
recorded, and no row is left queued or `sending`.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import pytest

from bot.store import open_store
from tests.conftest import fresh_postgres_url
from tests.postgres import PostgresServer
from tests.test_delivery import bot_process, news, subprocess_env, subscribe_many
from tests.test_delivery_timing import assert_settled

CHATS = 300
IN_FLIGHT = 8


def random_options(
    rng: random.Random, crash_after: int, lease: int, rate: tuple[float, float] = (150, 400)
) -> list[str]:
    return [
        *("--latency", f"{rng.uniform(0.002, 0.02):.4f}"),
        *("--jitter", f"{rng.uniform(0, 0.03):.4f}"),
        *("--per-second", f"{rng.uniform(*rate):.0f}"),
        *("--retry-after-rate", "0.03"),
        *("--transient-rate", "0.05"),
        *("--seed", str(rng.randrange(1 << 30))),
        *("--max-in-flight", str(IN_FLIGHT)),
        *("--crash-after", str(crash_after)),
        *("--lease", str(lease)),
        *("--max-seconds", "40"),
    ]


async def run_bot(tmp_path: Path, url: str, log: Path, options: list[str]) -> int:
    proc = await asyncio.create_subprocess_exec(
        *bot_process(tmp_path, url, log, *options),
        env=subprocess_env(),
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 90)
    assert b"Traceback" not in err, err.decode()[-3000:]
    assert proc.returncode is not None
    return proc.returncode


def delivered(logs: list[Path]) -> Counter[str]:
    return Counter(chat for log in logs if log.exists() for chat in log.read_text().split())


async def check_end_state(url: str, logs: list[Path], kills: int) -> None:
    counts = delivered(logs)
    assert set(counts) == {str(n) for n in range(CHATS)}, "a chat never got the item"
    twice = [chat for chat, n in counts.items() if n > 1]
    # Only a send that returned but was not yet recorded can go out again:
    # at most the rows one process held when it was killed.
    assert len(twice) <= IN_FLIGHT * kills, (len(twice), kills)
    store = await open_store(url)
    try:
        await assert_settled(store, CHATS)
    finally:
        await store.close()


@pytest.mark.parametrize("seed", [21, 22])
async def test_sqlite_bot_killed_at_random_points_and_restarted(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    await subscribe_many(url, CHATS)
    news(tmp_path / "updates")
    logs: list[Path] = []
    kills = 0
    for round_ in range(4):
        crash_after = rng.randrange(20, 90) if round_ < 3 else 0
        logs.append(tmp_path / f"round{round_}.log")
        code = await run_bot(tmp_path, url, logs[-1], random_options(rng, crash_after, 300))
        if code == -9:
            kills += 1
        else:
            assert code == 0
    assert kills >= 2  # the rounds really died mid-broadcast
    await check_end_state(url, logs, kills)


@pytest.mark.parametrize("seed", [31, 32])
async def test_postgresql_two_processes_one_killed_at_random(
    tmp_path: Path, postgres_server: PostgresServer, seed: int
) -> None:
    rng = random.Random(seed)
    url = await fresh_postgres_url(postgres_server)
    await subscribe_many(url, CHATS)
    news(tmp_path / "updates")
    logs = [tmp_path / name for name in ("steady.log", "doomed.log", "replacement.log")]

    # Slow enough that both processes are at work when one of them dies.
    slow = (40.0, 80.0)

    async def doomed_then_replaced() -> tuple[int, int]:
        crash_after = rng.randrange(10, 40)
        first = await run_bot(tmp_path, url, logs[1], random_options(rng, crash_after, 2, slow))
        second = await run_bot(tmp_path, url, logs[2], random_options(rng, 0, 2, slow))
        return first, second

    steady, (doomed, replacement) = await asyncio.gather(
        run_bot(tmp_path, url, logs[0], random_options(rng, 0, 2, slow)),
        doomed_then_replaced(),
    )
    assert (steady, doomed, replacement) == (0, -9, 0)
    await check_end_state(url, logs, kills=1)
