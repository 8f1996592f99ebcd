"""The delivery promise when sends take time: leases, restarts, start order.

Every fake here takes time like a platform (latency, jitter, a rate, 429s and
502s), and every test asserts the end state: each chat has the item exactly
once, no row is left `sending`, nothing is queued, and the status says so.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.adapters.base import ChatGoneHandler, CommandHandler, Incoming, Outgoing
from bot.app import App
from bot.clock import SystemClock
from bot.delivery.worker import Action, Backoff, DeliveryWorker, Send
from bot.store import OutboxRow, Store, open_store
from tests.conftest import make_config
from tests.recording import RecordingAdapter, Timing
from tests.test_delivery import news, subscribe_many


async def assert_settled(store: Store, chats: int, platform: str = "telegram") -> None:
    """The end state of a finished broadcast: every row sent, none in flight."""
    counts = await store.queue_counts()
    assert counts.get((platform, "sending"), 0) == 0, counts
    assert counts.get((platform, "queued"), 0) == 0, counts
    assert counts.get((platform, "sent"), 0) == chats, counts


async def finish(app: App, timeout: float = 30.0) -> None:
    """Wait (bounded) until nothing is queued or in flight, retries included."""
    for _ in range(int(timeout * 10)):
        if await app.store.pending() == 0 and await app.drain(timeout=1):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"still queued after {timeout} s: {await app.store.queue_counts()}")


def exactly_once(sent: list[str], chats: int) -> None:
    counts = Counter(sent)
    assert set(counts) == {str(n) for n in range(chats)}, "every chat reached"
    twice = sorted(c for c, n in counts.items() if n > 1)
    assert twice == [], f"{len(twice)} chats got the item more than once"


async def test_slow_sends_keep_their_leases_and_two_workers_never_share_a_row(
    database_url: str,
) -> None:
    """Sends that take longer than the lease: the leases are renewed, so the
    other worker never takes a row that is still on its way."""
    chats = 120
    await subscribe_many(database_url, chats)
    store = await open_store(database_url)
    await store.enqueue("item:slow", "slow", "", [], ["telegram"], time.time())
    adapters = [
        RecordingAdapter(max_in_flight=40, timing=Timing(latency=0.05, jitter=2.0, seed=seed))
        for seed in (1, 2)
    ]
    for adapter in adapters:
        await adapter.start(_no_commands, _no_gone)

    async def compose(row: OutboxRow) -> Action:
        return Send(Outgoing("Slow news"))

    workers = [DeliveryWorker(store, a, compose, SystemClock(), lease=0.8) for a in adapters]
    for worker in workers:
        worker.start(poll=0.05)
    try:
        for _ in range(300):  # at most 30 s
            if all([await w.idle() for w in workers]):
                break
            await asyncio.sleep(0.1)
        assert all([await w.idle() for w in workers]), "the broadcast did not finish in 30 s"
    finally:
        for worker in workers:
            await worker.stop()
    sent = [chat for adapter in adapters for chat, _ in adapter.sent]
    exactly_once(sent, chats)
    await assert_settled(store, chats)
    await store.close()


async def nothing_to_send(row: OutboxRow) -> Action:
    raise AssertionError("nothing is sent here")


async def _no_commands(msg: Incoming) -> list[Outgoing]:
    return []


async def _no_gone(platform: str, chat_id: str) -> None:
    return None


@pytest.mark.parametrize("seed", [11, 12, 13])
async def test_random_timing_and_clean_restarts_send_nothing_twice(
    tmp_path: Path, database_url: str, seed: int
) -> None:
    """Random latency, jitter, 429s and 502s; the bot is stopped and started
    again at random moments in the middle of the broadcast."""
    rng = random.Random(seed)
    chats = 150
    await subscribe_many(database_url, chats)
    news(tmp_path / "updates")
    config = make_config(tmp_path, database_url)
    sent: list[str] = []
    for run in range(4):
        timing = Timing(
            latency=rng.uniform(0.005, 0.03),
            jitter=rng.uniform(0.0, 0.05),
            per_second=rng.uniform(150, 400),
            retry_after_rate=0.05,
            retry_after=0.1,
            transient_rate=0.05,
            seed=rng.randrange(1 << 30),
        )
        adapter = RecordingAdapter(max_in_flight=rng.choice([4, 16, 64]), timing=timing)
        app = App(
            config,
            adapters=[adapter],
            watch=False,
            backoff=Backoff(first=0.05, cap=0.2, jitter=0.0, max_attempts=100),
        )
        await app.start()
        try:
            if run < 3:
                await asyncio.sleep(rng.uniform(0.05, 0.4))  # then a clean stop, mid-broadcast
            else:
                await finish(app)
                await assert_settled(app.store, chats)
                status = await app.status()
                assert f"telegram: sent {chats}" in status, status
        finally:
            await app.stop()
        sent += [chat for chat, _ in adapter.sent]
    exactly_once(sent, chats)


async def test_idle_waits_for_rows_left_sending(tmp_path: Path) -> None:
    """A row another process holds is work still under way, not idleness."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    await subscribe_many(url, 1)
    store = await open_store(url)
    now = time.time()
    await store.enqueue("item:x", "x", "", [], ["telegram"], now)
    assert len(await store.claim("telegram", now, 10, 60, "someone-else")) == 1
    worker = DeliveryWorker(store, RecordingAdapter(), nothing_to_send, SystemClock())
    assert not await worker.idle()
    await store.close()


async def test_queued_rows_at_start_wait_for_the_adapter(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After a restart with rows queued, the first sends come after the adapter
    has started: none crashes, none is backed off."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    await subscribe_many(url, 100)
    news(tmp_path / "updates")
    store = await open_store(url)  # what a stopped bot left queued
    assert await store.enqueue("item:strike", "strike", "", [], ["telegram"], time.time()) == 100
    await store.close()

    class SlowStart(RecordingAdapter):
        async def start(self, on_command: CommandHandler, on_chat_gone: ChatGoneHandler) -> None:
            await asyncio.sleep(0.3)
            await super().start(on_command, on_chat_gone)

    adapter = SlowStart(timing=Timing(latency=0.01))
    app = App(make_config(tmp_path), adapters=[adapter], watch=False)
    caplog.set_level(logging.INFO)
    await app.start()
    try:
        await finish(app)
        await assert_settled(app.store, 100)
    finally:
        await app.stop()
    exactly_once([chat for chat, _ in adapter.sent], 100)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], [
        r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
    ]


async def test_a_send_whose_lease_was_taken_over_is_dropped_and_the_chat_goes_on(
    tmp_path: Path,
) -> None:
    """While a row waits for a slow platform, another worker takes it over (its
    lease had run out there): this worker must not send it, and the same chat's
    next row still goes out."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    await subscribe_many(url, 1)
    store = await open_store(url)
    for item in ("first", "second"):
        await store.enqueue(f"item:{item}", item, "", [], ["telegram"], time.time())

    first_under_way = asyncio.Event()

    class Stuck(RecordingAdapter):
        async def send(self, chat_id: str, message: Outgoing) -> list[str]:
            if message.markdown == "first":
                first_under_way.set()
                await asyncio.Event().wait()  # a platform that never answers this one
            return await super().send(chat_id, message)

    async def compose(row: OutboxRow) -> Action:
        return Send(Outgoing(row.item_id))

    adapter = Stuck()
    await adapter.start(_no_commands, _no_gone)
    worker = DeliveryWorker(store, adapter, compose, SystemClock(), lease=0.4)
    worker.start(poll=0.05)
    try:
        await asyncio.wait_for(first_under_way.wait(), timeout=5)
        async with store.engine.begin() as conn:  # another worker took the first over
            await conn.execute(
                text("UPDATE outbox SET claimed_by = 'other' WHERE item_id = 'first'")
            )
        for _ in range(100):  # at most 5 s
            if adapter.sent:
                break
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
    assert [message.markdown for _, message in adapter.sent] == ["second"]
    async with store.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT item_id, state, claimed_by FROM outbox"))).all()
    assert sorted(tuple(r) for r in rows) == [
        ("first", "sending", "other"),  # still the other worker's
        ("second", "sent", None),
    ]
    await store.close()
