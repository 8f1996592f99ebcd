"""The delivery promise: once per subscriber, nothing lost in a crash, errors handled."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.base import ChatGone, ChatMoved, Rejected, RetryAfter, SendError, Transient
from bot.app import App
from bot.clock import FakeClock
from bot.delivery.worker import Backoff
from bot.logs import quiet_libraries
from bot.store import DatabaseError, open_store
from tests.conftest import fresh_postgres_url, make_config, write_update
from tests.postgres import PostgresServer
from tests.recording import RecordingAdapter

TODAY = time.strftime("%Y-%m-%d", time.gmtime())


def news(folder: Path, name: str = "strike.md", campaigns: str = "[]") -> None:
    write_update(
        folder,
        name,
        f"""
        kind: news
        title: Strike news {name}
        date: {TODAY}
        campaigns: {campaigns}
    """,
        "The strike goes on.",
    )


async def subscribe_many(url: str, count: int, platform: str = "telegram") -> None:
    store = await open_store(url)
    for n in range(count):
        await store.subscribe(platform, str(n), None, time.time())
    await store.close()


async def test_new_file_reaches_every_subscriber_once(tmp_path: Path, database_url: str) -> None:
    await subscribe_many(database_url, 50)
    tg = RecordingAdapter()
    app = App(make_config(tmp_path, database_url), adapters=[tg], watch=False)
    await app.start()
    try:
        news(tmp_path / "updates")
        await app.reload()
        await app.reload()  # the same item seen again enqueues nothing
        await tg.wait_for(lambda: len(tg.sent) >= 50)
        assert await app.drain(timeout=10)
        assert sorted(c for c, _ in tg.sent) == sorted(str(n) for n in range(50))
        assert "The strike goes on." in tg.received("7")[0]
    finally:
        await app.stop()


async def test_two_processes_enqueueing_deliver_once(tmp_path: Path, database_url: str) -> None:
    await subscribe_many(database_url, 100)
    news(tmp_path / "updates")
    first, second = RecordingAdapter(), RecordingAdapter()
    apps = [
        App(make_config(tmp_path, database_url), adapters=[a], watch=False) for a in (first, second)
    ]
    if database_url.startswith("sqlite"):
        # One process per SQLite file: the second is refused, in one line.
        await apps[0].start()
        with pytest.raises(DatabaseError, match=r"another strikewire is running on .*use Postgre"):
            await apps[1].start()
        await apps[1].stop()
        apps = apps[:1]
    else:
        await asyncio.gather(*(app.start() for app in apps))
    try:
        await first.wait_for(lambda: len(first.sent) + len(second.sent) >= 100)
        await asyncio.gather(*(app.drain(timeout=10) for app in apps))
        chats = [c for c, _ in first.sent + second.sent]
        assert sorted(chats) == sorted(str(n) for n in range(100))
    finally:
        await asyncio.gather(*(app.stop() for app in apps))


async def test_old_items_are_never_broadcast(tmp_path: Path) -> None:
    write_update(
        tmp_path / "updates",
        "old.md",
        """
        kind: news
        title: Old news
        date: 2020-01-01
    """,
    )
    await subscribe_many(f"sqlite:///{tmp_path / 'bot.db'}", 3)
    tg = RecordingAdapter()
    app = App(make_config(tmp_path), adapters=[tg], watch=False)
    await app.start()
    try:
        assert await app.drain(timeout=5)
        assert tg.sent == []
    finally:
        await app.stop()


async def test_errors_are_classified(tmp_path: Path) -> None:
    await subscribe_many(f"sqlite:///{tmp_path / 'bot.db'}", 5)
    tg = RecordingAdapter()
    errors: dict[str, Callable[[int], SendError | None]] = {
        "0": lambda attempt: ChatGone("blocked"),
        "1": lambda attempt: RetryAfter(0.3) if attempt == 1 else None,
        "2": lambda attempt: Transient("502") if attempt == 1 else None,
        "3": lambda attempt: Rejected("message is too long"),
        "4": lambda attempt: ChatMoved("-1004") if attempt == 1 else None,
    }
    tg.fail = lambda chat, attempt: errors[chat](attempt) if chat in errors else None
    app = App(
        make_config(tmp_path), adapters=[tg], watch=False, backoff=Backoff(first=0.2, jitter=0.0)
    )
    await app.start()
    try:
        news(tmp_path / "updates")
        started = time.monotonic()
        await app.reload()
        await tg.wait_for(lambda: {"1", "2", "-1004"} <= {c for c, _ in tg.sent})
        assert time.monotonic() - started >= 0.2  # the retry-after was waited out
        assert await app.drain(timeout=10)
        assert sorted(c for c, _ in tg.sent) == ["-1004", "1", "2"]
        assert tg.attempts["3"] == 1  # rejected: never looped
        gone = await app.store.subscription("telegram", "0")
        assert gone is None  # a chat gone is forgotten (keep_inactive_subscribers 0)
        moved = await app.store.subscription("telegram", "-1004")
        assert moved is not None and moved.active
        counts = await app.store.queue_counts()
        assert counts[("telegram", "sent")] == 3 and counts[("telegram", "failed")] == 2
    finally:
        await app.stop()


def bot_process(tmp_path: Path, url: str, log: Path, *options: str) -> list[str]:
    """The command line of a bot in its own process that logs its sends to `log`."""
    return [sys.executable, "-m", "tests.bot_process", str(tmp_path), url, str(log), *options]


def subprocess_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}


async def test_a_crash_between_send_and_mark_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    await subscribe_many(url, 300)
    news(tmp_path / "updates")
    log = tmp_path / "sent.log"
    proc = await asyncio.to_thread(
        subprocess.run,
        bot_process(tmp_path, url, log, "--crash-after", "120"),
        env=subprocess_env(),
        timeout=60,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    before_crash = log.read_text().split()
    assert len(before_crash) == 120

    tg = RecordingAdapter()
    app = App(make_config(tmp_path), adapters=[tg], watch=False)
    await app.start()
    try:
        await tg.wait_for(lambda: len(before_crash) + len(tg.sent) >= 300, timeout=20)
        assert await app.drain(timeout=10)
    finally:
        await app.stop()
    after = [c for c, _ in tg.sent]
    assert set(before_crash) | set(after) == {str(n) for n in range(300)}  # nothing lost
    resent = set(before_crash) & set(after)
    # Only rows that were sent but not yet recorded are sent again: at most one
    # unflushed batch, bounded by what the worker may have in flight.
    assert len(resent) <= 8 + 8, json.dumps(sorted(resent))


async def test_logs_never_name_a_chat(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret_chat = "987654321"
    await subscribe_many(f"sqlite:///{tmp_path / 'bot.db'}", 0)
    tg = RecordingAdapter()
    tg.fail = lambda chat, attempt: ChatGone("blocked") if attempt == 1 else None
    app = App(make_config(tmp_path), adapters=[tg], watch=False)
    quiet_libraries()
    caplog.set_level(logging.DEBUG)
    await app.start()
    try:
        await tg.say(secret_chat, "/start")
        await tg.say(secret_chat, "/address")
        news(tmp_path / "updates")
        await app.reload()
        assert await app.drain(timeout=10)
    finally:
        await app.stop()
    assert any("chat gone" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert secret_chat not in record.getMessage()
        assert "The strike goes on" not in record.getMessage()


async def test_embargoed_item_goes_out_when_its_time_comes(tmp_path: Path) -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    clock = FakeClock(now)
    write_update(
        tmp_path / "updates",
        "embargo.md",
        """
        kind: news
        title: Embargoed until ten
        date: 2026-11-22
        publish_at: 2026-11-22T11:00:00+01:00
    """,
    )
    await subscribe_many(f"sqlite:///{tmp_path / 'bot.db'}", 2)
    tg = RecordingAdapter()
    app = App(make_config(tmp_path), adapters=[tg], watch=False, clock=clock)
    await app.start()
    try:
        assert await app.drain(timeout=5)
        assert tg.sent == []
        assert (await tg.say("9", "/latest"))[0] == "No updates yet."
        clock.advance(timedelta(minutes=59))
        await app.tick()
        assert tg.sent == []
        clock.advance(timedelta(minutes=1))
        await app.tick()
        await tg.wait_for(lambda: len(tg.sent) == 2)
        assert "Embargoed until ten" in tg.received("0")[0]
    finally:
        await app.stop()


async def test_two_os_processes_on_postgresql_deliver_once(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = await fresh_postgres_url(postgres_server)
    await subscribe_many(url, 400)
    news(tmp_path / "updates")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [
        await asyncio.create_subprocess_exec(
            *bot_process(tmp_path, url, log), env=subprocess_env(), stderr=asyncio.subprocess.PIPE
        )
        for log in logs
    ]
    for proc in procs:
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()[-2000:]
    sent = [chat for log in logs if log.exists() for chat in log.read_text().split()]
    assert sorted(sent) == sorted(str(n) for n in range(400)), "each chat exactly once"


async def test_a_row_whose_file_was_removed_is_never_sent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    await subscribe_many(url, 2)
    store = await open_store(url)
    await store.enqueue("item:ghost", "ghost", "", [], ["telegram"], time.time())
    await store.close()
    tg = RecordingAdapter()
    app = App(make_config(tmp_path), adapters=[tg], watch=False)
    await app.start()
    try:
        assert await app.drain(timeout=10)
        assert tg.sent == []
        assert [e[1:3] for e in await app.store.recent_errors()] == [("ghost", "item-gone")] * 2
    finally:
        await app.stop()
