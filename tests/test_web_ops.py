"""What operators read: /metrics moves with a broadcast (sent, failed, retried,
429s, the queue and its oldest due row, subscribers, invalid files) and
/healthz says 503 and why when the database is gone or an adapter is not
connected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from bot.adapters.base import ChatGone, Outgoing, RetryAfter, SendError, Transient
from bot.app import App
from bot.clock import FakeClock, SystemClock
from bot.config import TelegramConfig
from bot.delivery.worker import Backoff
from tests.conftest import fresh_postgres_url, write_update
from tests.fake_telegram import FakeTelegram
from tests.postgres import PostgresServer
from tests.recording import RecordingAdapter
from tests.web import NOW, campaign_folder, get, running_web, web_config

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(url: str) -> Samples:
    got = await get(url + "/metrics")
    assert got.status == 200
    assert got.headers["Content-Type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(got.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def news(folder: Path, date: str, name: str = "strike-news.md") -> None:
    write_update(folder, name, f"kind: news\ntitle: Strike news\ndate: {date}", "It goes on.")


async def test_metrics_count_a_broadcast(tmp_path: Path) -> None:
    campaign_folder(tmp_path / "updates")
    write_update(tmp_path / "updates", "broken.md", "kind: nonsense\ntitle: x\ndate: 2026-11-20")
    tg = RecordingAdapter()
    errors: dict[str, SendError] = {
        "0": ChatGone("blocked"),
        "1": RetryAfter(0.2),
        "2": Transient("502 Bad Gateway"),
    }
    tg.fail = lambda chat, attempt: errors.get(chat) if attempt == 1 else None
    config = web_config(tmp_path)
    async with running_web(config, SystemClock(), tg) as bot:
        for worker in bot.app.workers.values():
            worker.backoff = Backoff(first=0.1, jitter=0)
        for n in range(10):
            await bot.app.store.subscribe("telegram", str(n), None, time.time())
        before = await scrape(bot.url)
        labels = {"platform": "telegram", "kind": "broadcast"}
        assert value(before, "strikewire_messages_sent_total", **labels) == 0
        assert value(before, "strikewire_subscribers", platform="telegram") == 10
        assert value(before, "strikewire_invalid_update_files") == 1

        news(tmp_path / "updates", time.strftime("%Y-%m-%d", time.gmtime()))
        await bot.app.reload()
        await tg.wait_for(lambda: len(tg.sent) >= 9)
        assert await bot.app.drain(timeout=10)

        after = await scrape(bot.url)
        assert value(after, "strikewire_messages_sent_total", **labels) == 9
        assert value(after, "strikewire_messages_failed_total", **labels) == 1
        assert value(after, "strikewire_messages_retried_total", **labels) == 2
        assert value(after, "strikewire_rate_limited_total", platform="telegram") == 1
        assert value(after, "strikewire_subscribers", platform="telegram") == 9
        assert value(after, "strikewire_queue_rows", platform="telegram", state="queued") == 0
        # No label anywhere names a chat.
        for _name, sample_labels in after:
            assert set(dict(sample_labels)) <= {"platform", "kind", "state"}


class GatedAdapter(RecordingAdapter):
    """Sends wait at a gate the test opens."""

    def __init__(self) -> None:
        super().__init__(max_in_flight=1)
        self.gate = asyncio.Event()
        self.waiting = 0

    async def send(self, chat_id: str, message: Outgoing) -> list[str]:
        self.waiting += 1
        await self.gate.wait()
        return await super().send(chat_id, message)

    async def edit(self, chat_id: str, message_ids: Sequence[str], message: Outgoing) -> list[str]:
        await self.gate.wait()
        return await super().edit(chat_id, message_ids, message)


async def test_metrics_show_the_queue_and_its_oldest_due_row(tmp_path: Path) -> None:
    campaign_folder(tmp_path / "updates")
    clock = FakeClock(NOW)
    tg = GatedAdapter()
    async with running_web(web_config(tmp_path), clock, tg) as bot:
        for n in range(4):
            await bot.app.store.subscribe("telegram", str(n), None, NOW.timestamp())
        news(tmp_path / "updates", NOW.date().isoformat())
        await bot.app.reload()
        await tg.wait_for(lambda: tg.waiting >= 1)
        clock.advance(timedelta(seconds=90))
        during = await scrape(bot.url)
        queued = value(during, "strikewire_queue_rows", platform="telegram", state="queued")
        sending = value(during, "strikewire_queue_rows", platform="telegram", state="sending")
        assert queued + sending == 4 and queued >= 2
        assert value(during, "strikewire_queue_oldest_due_age_seconds", platform="telegram") == 90
        tg.gate.set()
        await tg.wait_for(lambda: len(tg.sent) >= 4)
        assert await bot.app.drain(timeout=10)
        done = await scrape(bot.url)
        assert value(done, "strikewire_queue_rows", platform="telegram", state="queued") == 0
        assert value(done, "strikewire_queue_oldest_due_age_seconds", platform="telegram") == 0
        labels = {"platform": "telegram", "kind": "broadcast"}
        assert value(done, "strikewire_messages_sent_total", **labels) == 4


async def test_two_apps_in_one_process_count_apart(tmp_path: Path) -> None:
    for name in ("a", "b"):
        campaign_folder(tmp_path / name / "updates")
    async with (
        running_web(web_config(tmp_path / "a")) as first,
        running_web(web_config(tmp_path / "b")) as second,
    ):
        first.app.metrics.outcome("telegram", "broadcast", "sent")
        one, other = await scrape(first.url), await scrape(second.url)
        labels = {"platform": "telegram", "kind": "broadcast"}
        assert value(one, "strikewire_messages_sent_total", **labels) == 1
        assert value(other, "strikewire_messages_sent_total", **labels) == 0


async def test_healthz_is_503_when_an_adapter_is_not_connected(tmp_path: Path) -> None:
    campaign_folder(tmp_path / "updates")
    async with running_web(web_config(tmp_path, public=False)) as bot:
        ok = await get(bot.url + "/healthz")
        assert (ok.status, ok.text) == (200, "ok\n")
        bot.adapter.unhealthy = "telegram: not connected"
        down = await get(bot.url + "/healthz")
        assert (down.status, down.text) == (503, "telegram: not connected\n")
        bot.adapter.unhealthy = None
        assert (await get(bot.url + "/healthz")).status == 200


async def test_healthz_is_503_when_the_database_is_gone(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    campaign_folder(tmp_path / "updates")
    url = await fresh_postgres_url(postgres_server)
    async with running_web(web_config(tmp_path, url)) as bot:
        assert (await get(bot.url + "/healthz")).status == 200
        name = url.rsplit("/", 1)[1]
        admin = await asyncpg.connect(
            f"postgresql://strikewire@127.0.0.1:{postgres_server.port}/postgres"
        )
        try:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        down = await get(bot.url + "/healthz")
        assert down.status == 503
        assert down.text.startswith("database: not answering (")
        assert down.text.count("\n") == 1
        # The counters are still there; the store's gauges are not made up.
        metrics = await get(bot.url + "/metrics")
        assert metrics.status == 200
        assert "strikewire_messages_sent_total" in metrics.text
        assert "strikewire_queue_rows{" not in metrics.text
        # The pages need no database.
        assert (await get(bot.url + "/")).status == 200


async def test_telegram_link_and_health_come_from_the_telegram_adapter(tmp_path: Path) -> None:
    campaign_folder(tmp_path / "updates")
    fake = FakeTelegram()
    await fake.start()
    telegram = TelegramConfig(token=fake.token, base_url=fake.base_url)
    config = web_config(tmp_path).model_copy(update={"telegram": telegram})
    app = App(config, clock=FakeClock(NOW), watch=False)
    fake_up = True
    try:
        await app.start()
        assert app.web is not None
        url = f"http://127.0.0.1:{app.web.port}"
        assert (await get(url + "/healthz")).text == "ok\n"
        page = (await get(url + "/")).text
        assert 'href="https://t.me/strikewire_test_bot?start=">Telegram</a>' in page
        await fake.stop()  # Telegram is unreachable now
        fake_up = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while (health := await get(url + "/healthz")).status == 200:
            assert loop.time() < deadline, "healthz stayed 200 with Telegram gone"
            await asyncio.sleep(0.2)
        assert health.status == 503
        assert health.text.startswith("telegram: polling failing (")
    finally:
        await app.stop()
        if fake_up:
            await fake.stop()
