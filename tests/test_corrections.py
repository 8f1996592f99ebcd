"""Corrections and withdrawals through the outbox, with an adapter that takes
time: a changed update edits what each chat was sent (in its language), a
`correction:` adds one notice as a reply, a withdrawal takes every message
back, and nothing is edited when only the file's bytes changed.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from bot.app import App
from bot.delivery.worker import Backoff
from bot.store import open_store
from tests.conftest import make_config, write_update
from tests.recording import RecordingAdapter, Timing, plain
from tests.test_delivery import subscribe_many
from tests.test_delivery_timing import finish

TODAY = time.strftime("%Y-%m-%d", time.gmtime())
CHATS = 20


def appeal(folder: Path, *, court: str = "Uralsk City Court", extra: str = "") -> Path:
    return write_update(
        folder,
        "court-appeal.md",
        f"""
        kind: appeal
        title: Write to the court
        date: {TODAY}
        addresses:
          - label: The court
            postal: "{court}, ul. Pushkina 1"
        {extra}
    """,
        "Ask the court to release the strike committee.",
    )


def russian(folder: Path, body: str = "Напишите в суд.") -> Path:
    return write_update(folder, "court-appeal.ru.md", "title: Напишите в суд", body)


async def start(tmp_path: Path, url: str, adapter: RecordingAdapter) -> App:
    app = App(
        make_config(tmp_path, url),
        adapters=[adapter],
        watch=False,
        backoff=Backoff(first=0.05, jitter=0.0),
    )
    await app.start()
    return app


async def broadcast(tmp_path: Path, url: str) -> tuple[App, RecordingAdapter]:
    """20 chats (two of them reading Russian) receive the appeal."""
    await subscribe_many(url, CHATS)
    store = await open_store(url)
    for chat in ("0", "1"):
        await store.set_language("telegram", chat, "ru")
    await store.close()
    updates = tmp_path / "updates"
    appeal(updates)
    russian(updates)
    adapter = RecordingAdapter(timing=Timing(latency=0.005, jitter=0.01, seed=3))
    app = await start(tmp_path, url, adapter)
    await finish(app)
    assert len(adapter.sent) == CHATS
    return app, adapter


def first_id(adapter: RecordingAdapter, chat: str) -> str:
    """The message id the chat's copy of the update got."""
    ids = [f"m{n}" for n, (c, _) in enumerate(adapter.sent, 1) if c == chat]
    return ids[0]


async def test_a_corrected_file_edits_each_chat_once_with_a_notice(
    tmp_path: Path, database_url: str
) -> None:
    app, adapter = await broadcast(tmp_path, database_url)
    try:
        appeal(
            tmp_path / "updates",
            court="Oral Regional Court",
            extra='correction: "The court\'s address was wrong."',
        )
        await app.reload()
        await finish(app)
        edited = Counter(chat for chat, _, _ in adapter.edits)
        assert edited == {str(n): 1 for n in range(CHATS)}, "one edit per chat"
        for chat, ids, message in adapter.edits:
            assert ids == (first_id(adapter, chat),), "the chat's own message"
            text = plain(message.markdown)
            assert "Oral Regional Court" in text and "Uralsk City Court" not in text
            said = "Исправлено" if chat in ("0", "1") else "Corrected"  # in the reader's language
            assert said in text and "The court's address was wrong." in text
        notices = [(c, m) for c, m in adapter.sent if m.reply_to is not None]
        assert sorted(c for c, _ in notices) == sorted(str(n) for n in range(CHATS))
        for chat, notice in notices:
            assert notice.reply_to == first_id(adapter, chat)
        counts = await app.store.queue_counts()
        assert ("telegram", "queued") not in counts and ("telegram", "sending") not in counts

        # Nothing new: reloading, or rewriting the same content, edits nothing.
        appeal(
            tmp_path / "updates",
            court="Oral Regional Court",
            extra='correction:    "The court\'s address was wrong."   # reformatted',
        )
        await app.reload()
        await finish(app)
        assert len(adapter.edits) == CHATS
    finally:
        await app.stop()


async def test_a_changed_translation_edits_only_its_readers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    app, adapter = await broadcast(tmp_path, url)
    try:
        russian(tmp_path / "updates", "Напишите в областной суд.")
        await app.reload()
        await finish(app)
        assert sorted(c for c, _, _ in adapter.edits) == ["0", "1"]
        assert all("областной" in plain(m.markdown) for _, _, m in adapter.edits)
        assert not [m for _, m in adapter.sent if m.reply_to], "no correction: no notice"
    finally:
        await app.stop()


async def test_two_quick_changes_leave_the_latest_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    app, adapter = await broadcast(tmp_path, url)
    try:
        appeal(tmp_path / "updates", court="First Court", extra='correction: "Court one."')
        await app.reload()
        appeal(tmp_path / "updates", court="Second Court", extra='correction: "Court two."')
        await app.reload()
        await finish(app)
        last: dict[str, str] = {}
        for chat, _, message in adapter.edits:
            last[chat] = plain(message.markdown)
        assert set(last) == {str(n) for n in range(CHATS)}
        assert all("Second Court" in text for text in last.values())
        notices = Counter(c for c, m in adapter.sent if m.reply_to is not None)
        assert set(notices) == set(last), "every chat told of the correction"
        last_notice = {c: plain(m.markdown) for c, m in adapter.sent if m.reply_to is not None}
        assert all("Court two." in text for text in last_notice.values())
    finally:
        await app.stop()


async def test_withdrawal_takes_back_every_message_and_hides_the_item(
    tmp_path: Path, database_url: str
) -> None:
    app, adapter = await broadcast(tmp_path, database_url)
    try:
        appeal(tmp_path / "updates", extra='withdrawn: "Published by mistake"')
        await app.reload()
        await finish(app)
        expected = [(str(n), (first_id(adapter, str(n)),)) for n in range(CHATS)]
        assert sorted(adapter.taken_back) == sorted(expected), "each message taken back once"
        assert "Write to the court" not in " ".join(await adapter.say("7", "/appeals"))
        assert "Write to the court" not in " ".join(await adapter.say("7", "/latest"))
        assert "Uralsk" not in " ".join(await adapter.say("7", "/address"))
        # Withdrawn stays withdrawn: a reload or a restart takes nothing back twice.
        await app.reload()
        await finish(app)
        assert len(adapter.taken_back) == CHATS
    finally:
        await app.stop()
    again = RecordingAdapter()
    app = await start(tmp_path, database_url, again)
    try:
        await finish(app)
        assert again.taken_back == [] and again.sent == []
    finally:
        await app.stop()


async def test_a_row_not_yet_sent_goes_out_in_the_new_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    await subscribe_many(url, 5)
    appeal(tmp_path / "updates")
    store = await open_store(url)
    await store.enqueue("item:court-appeal", "court-appeal", "", [], ["telegram"], time.time())
    await store.close()
    # The file changes while the bot is down: the queued rows carry the new text.
    appeal(tmp_path / "updates", court="Oral Regional Court")
    adapter = RecordingAdapter()
    app = await start(tmp_path, url, adapter)
    try:
        await finish(app)
        assert len(adapter.sent) == 5 and adapter.edits == []
        assert all("Oral Regional Court" in plain(m.markdown) for _, m in adapter.sent)
    finally:
        await app.stop()
