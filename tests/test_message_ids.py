"""An update sent as many messages keeps every message's id (issue #25): a
correction edits each part and a withdrawal takes each part back, however
many parts there were (broadcast.max_parts may be 100)."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from bot.adapters.base import Outgoing
from bot.app import App
from bot.delivery.worker import Backoff
from bot.render import to_telegram
from bot.store import open_store
from tests.conftest import make_config, write_update
from tests.recording import RecordingAdapter
from tests.test_delivery import subscribe_many
from tests.test_delivery_timing import finish

TODAY = time.strftime("%Y-%m-%d", time.gmtime())
PARAGRAPH = "Workers at the plant have not been paid for three months; the strike goes on. " * 5


class InParts(RecordingAdapter):
    """Sends a message as Telegram does, one message per part, each with a
    ten-digit id: what the store must keep for later edits and deletions."""

    def __init__(self) -> None:
        super().__init__()
        self.next_id = 7_000_000_000
        self.ids: list[list[str]] = []

    async def send(self, chat_id: str, message: Outgoing) -> list[str]:
        await super().send(chat_id, message)
        parts = len(to_telegram(message.markdown))
        ids = [str(self.next_id + n) for n in range(parts)]
        self.next_id += parts
        self.ids.append(ids)
        return ids


def long_update(folder: Path, extra: str = "") -> None:
    write_update(
        folder,
        "long-report.md",
        f"""
        kind: news
        title: The strike, day by day
        date: {TODAY}
        {extra}
        """,
        "\n\n".join(PARAGRAPH for _ in range(960)),
    )


async def test_every_part_of_a_100_part_update_is_corrected_and_withdrawn(
    tmp_path: Path, database_url: str
) -> None:
    await subscribe_many(database_url, 1)
    updates = tmp_path / "updates"
    long_update(updates)
    adapter = InParts()
    config = make_config(tmp_path, database_url, broadcast={"max_parts": 100})
    app = App(config, adapters=[adapter], watch=False, backoff=Backoff(first=0.05, jitter=0.0))
    await app.start()
    try:
        await finish(app, timeout=60)
        [sent] = adapter.ids
        assert 95 <= len(sent) <= 100, f"{len(sent)} parts"

        long_update(updates, 'correction: "Day 40 had the wrong date."')
        await app.reload()
        await finish(app, timeout=60)
        [(chat, edited, _)] = adapter.edits
        assert chat == "0" and list(edited) == sent, "the edit acts on every part, ids whole"
        [_, notice] = adapter.ids

        long_update(updates, 'withdrawn: "Published by mistake"')
        await app.reload()
        await finish(app, timeout=60)
        assert sorted(adapter.taken_back) == sorted([("0", tuple(sent)), ("0", tuple(notice))])
    finally:
        await app.stop()


async def test_message_ids_are_text_of_any_length(database_url: str) -> None:
    store = await open_store(database_url)
    try:
        await store.subscribe("telegram", "1", None, 0.0)
        await store.enqueue("item:a", "a", "", [], ["telegram"], 0.0)
        [row] = await store.claim("telegram", 0.0, 10, 60)
        ids = [str(7_000_000_000 + n) for n in range(100)]
        await store.mark_sent([(row.id, ",".join(ids))], 0.0)
        assert await store.target_of(row.id) == (tuple(ids), None)
        if store.engine.dialect.name == "postgresql":
            async with store.engine.connect() as conn:
                kind = await conn.scalar(
                    text(
                        "SELECT data_type FROM information_schema.columns"
                        " WHERE table_name = 'outbox' AND column_name = 'message_ids'"
                    )
                )
            assert kind == "text"
    finally:
        await store.close()
