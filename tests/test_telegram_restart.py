"""`strikewire run`, a real process, against the fake Bot API server with real
latency and the real flood limits: a broadcast is recorded as it goes, so a
clean restart resends nothing and a SIGKILL resends at most what was in
flight. Each test reads the end state: the server's per-chat counts, the
outbox, and what `strikewire status` prints.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.store import open_store
from tests.fake_telegram import FakeTelegram
from tests.test_delivery import news, subprocess_env

FIRST_CHAT = 10_000


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    # Telegram's own limits, and answers that take 50 ms give or take 20.
    server = FakeTelegram(per_second=30, latency=0.04, jitter=0.02, seed=7)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def write_config(tmp_path: Path, fake: FakeTelegram) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        "updates_dir: updates\n"
        'database: {url: "sqlite:///bot.db"}\n'
        "timezone: UTC\n"
        f'telegram: {{token: "{fake.token}", base_url: "{fake.base_url}"}}\n'
    )
    (tmp_path / "updates").mkdir(exist_ok=True)
    return config


async def subscribe(tmp_path: Path, chats: int) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'bot.db'}")
    for n in range(chats):
        await store.subscribe("telegram", str(FIRST_CHAT + n), None, 0.0)
    await store.close()


class Bot:
    """One `strikewire run` process; its log is kept to look for tracebacks."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.log = config.parent / "bot.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, fake: FakeTelegram) -> None:
        polls = len(fake.calls_to("getUpdates"))
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                "-c",
                str(self.config),
                env=subprocess_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        # Polling has begun: the adapter is up and so are the workers.
        await eventually(lambda: len(fake.calls_to("getUpdates")) > polls, 20)

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = await asyncio.wait_for(self.proc.wait(), 30)
        self.proc = None
        return code

    def traceback_free(self) -> None:
        text = self.log.read_text(errors="replace")
        assert "Traceback" not in text, text[-3000:]


async def eventually(check: Callable[[], bool], timeout: float) -> None:
    for _ in range(int(timeout * 20)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def per_chat(fake: FakeTelegram) -> Counter[int]:
    return Counter(m.chat_id for m in fake.sent)


async def status(config: Path) -> str:
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "status", "-c", str(config)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


async def assert_recorded(config: Path, chats: int) -> None:
    """`strikewire status` shows every row sent, none queued or in flight
    (within a second or two: the last answers are still on their way)."""
    for _ in range(10):
        text = await status(config)
        queue = [line.strip("•- ") for line in text.splitlines() if "telegram:" in line]
        if queue == [f"telegram: sent {chats}"]:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(text)


async def test_a_clean_restart_after_a_broadcast_resends_nothing(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    chats = 400
    config = write_config(tmp_path, fake)
    await subscribe(tmp_path, chats)
    bot = Bot(config)
    await bot.start(fake)
    news(tmp_path / "updates")  # dropped while the bot runs
    await eventually(lambda: len(per_chat(fake)) == chats, 60)
    # Every send was recorded as it went: nothing left queued or in flight.
    await assert_recorded(config, chats)
    assert await bot.stop() == 0

    await bot.start(fake)
    await asyncio.sleep(5)  # long enough for a resend to show
    assert await bot.stop() == 0
    counts = per_chat(fake)
    assert len(counts) == chats
    assert [c for c, n in counts.items() if n > 1] == [], "a chat got the update twice"
    assert fake.too_many_requests <= 3  # paced below the limit, not by 429s
    await assert_recorded(config, chats)
    bot.traceback_free()


async def test_sigterm_mid_broadcast_then_restart_sends_each_chat_once(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    chats = 300
    config = write_config(tmp_path, fake)
    await subscribe(tmp_path, chats)
    news(tmp_path / "updates")
    bot = Bot(config)
    await bot.start(fake)
    await eventually(lambda: len(fake.sent) >= 100, 30)
    assert await bot.stop() == 0  # in-flight sends finish and are recorded
    stopped_at = len(fake.sent)
    assert stopped_at < chats

    await bot.start(fake)
    await eventually(lambda: len(per_chat(fake)) == chats, 60)
    await asyncio.sleep(1)
    assert await bot.stop() == 0
    counts = per_chat(fake)
    assert [c for c, n in counts.items() if n > 1] == []
    await assert_recorded(config, chats)
    bot.traceback_free()


async def test_sigkill_mid_broadcast_resends_at_most_what_was_in_flight(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    chats = 600
    config = write_config(tmp_path, fake)
    await subscribe(tmp_path, chats)
    news(tmp_path / "updates")
    bot = Bot(config)
    await bot.start(fake)
    await eventually(lambda: len(fake.sent) >= 250, 40)
    assert await bot.stop(signal.SIGKILL) == -signal.SIGKILL

    await bot.start(fake)
    await eventually(lambda: len(per_chat(fake)) == chats, 60)
    await asyncio.sleep(1)
    assert await bot.stop() == 0
    counts = per_chat(fake)
    duplicated = [c for c, n in counts.items() if n > 1]
    assert max(counts.values()) <= 2
    # Sent but not yet recorded when the process died: a few flushes' worth.
    assert len(duplicated) <= 30, len(duplicated)
    await assert_recorded(config, chats)
    bot.traceback_free()
