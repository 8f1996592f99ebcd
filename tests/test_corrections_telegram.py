"""Corrections and withdrawals against the fake Bot API server, which keeps
every message's text, refuses to edit or delete an id it never sent to that
chat, answers 'message is not modified' to an edit that changes nothing, and
counts edits and deletions against the flood limits.

The big one runs `strikewire run` as a real process, kills it with SIGKILL in
the middle of the edits and starts it again: each chat's message is edited
exactly once, each chat gets its notice, and the withdrawal deletes every
part everywhere.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from bot.config import TelegramConfig
from tests.conftest import make_config, write_update
from tests.fake_telegram import FakeTelegram, SentMessage
from tests.test_telegram_e2e import command, eventually
from tests.test_telegram_restart import FIRST_CHAT, Bot, subscribe, write_config
from tests.test_telegram_restart import fake as fake  # the fixture

TODAY = time.strftime("%Y-%m-%d", time.gmtime())
TITLE = "Write to the Uralsk court"


def appeal(folder: Path, court: str, extra: str = "", body: str = "") -> None:
    write_update(
        folder,
        "court.md",
        f"""
        kind: appeal
        title: {TITLE}
        date: {TODAY}
        addresses:
          - label: The court
            postal: "{court}"
        {extra}
    """,
        body or "Ask the court to free the strike committee.",
    )


def of_item(fake: FakeTelegram, chat: int) -> list[SentMessage]:
    """What the chat shows of the update (not the notices)."""
    return [m for m in fake.sent_to(chat) if TITLE in m.text and m.reply_to is None]


async def test_correction_survives_a_sigkill_then_withdrawal_deletes_everything(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    chats = 200
    config = write_config(tmp_path, fake)
    await subscribe(tmp_path, chats)
    updates = tmp_path / "updates"
    bot = Bot(config)
    await bot.start(fake)
    appeal(updates, "Uralsk City Court")
    ids = range(FIRST_CHAT, FIRST_CHAT + chats)
    await eventually(lambda: all(of_item(fake, c) for c in ids), 60)
    original = {c: of_item(fake, c)[0].message_id for c in ids}

    appeal(updates, "Oral Regional Court", 'correction: "The court\'s address was wrong."')
    await eventually(lambda: len(fake.edits) >= 60, 60)
    assert await bot.stop(signal.SIGKILL) == -signal.SIGKILL
    await bot.start(fake)

    def corrected(chat: int) -> bool:
        shown = of_item(fake, chat)
        notices = [m for m in fake.sent_to(chat) if m.reply_to == original[chat]]
        return bool(shown and "Oral Regional Court" in shown[0].text and notices)

    await eventually(lambda: all(corrected(c) for c in ids), 90)
    edits = Counter((m.chat_id, m.message_id) for m in fake.edits)
    assert edits == Counter({(c, original[c]): 1 for c in ids}), "one edit per chat, its message"
    for chat in ids:
        shown = of_item(fake, chat)
        assert len(shown) == 1 and "Uralsk City Court" not in shown[0].text
        assert "Corrected" in shown[0].text
    notices = Counter(m.chat_id for m in fake.sent if m.reply_to is not None)
    assert set(notices) == set(ids)
    # A notice sent but not recorded when the process died goes out again.
    assert sum(n - 1 for n in notices.values()) <= 30

    appeal(updates, "Oral Regional Court", 'withdrawn: "Published by mistake"')
    await eventually(lambda: not any(fake.sent_to(c) for c in ids), 90)
    assert len(fake.deleted) >= 2 * chats  # the update and its notice, in every chat
    reader = FIRST_CHAT + chats + 1
    assert TITLE not in await command(fake, reader, "/appeals")
    assert TITLE not in await command(fake, reader, "/latest")
    assert await bot.stop() == 0
    bot.traceback_free()


@pytest.fixture
async def app(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[App]:
    telegram = TelegramConfig(token=fake.token, base_url=fake.base_url)
    running = App(make_config(tmp_path, telegram=telegram), settle=0.2, watch=False)
    await running.start()
    yield running
    await running.stop()


async def test_an_update_grows_to_three_parts_and_shrinks_back(
    tmp_path: Path, fake: FakeTelegram, app: App
) -> None:
    for chat in (FIRST_CHAT, FIRST_CHAT + 1):
        await command(fake, chat, "/start")
    updates = tmp_path / "updates"
    long_body = "\n\n".join(
        f"Paragraph {n}: the committee lists every court hearing and who to write to. " * 6
        for n in range(20)
    )
    appeal(updates, "Uralsk City Court")
    await app.reload()
    chat = FIRST_CHAT
    await eventually(lambda: len(of_item(fake, chat)) == 1, 30)
    first = of_item(fake, chat)[0].message_id

    def since_first() -> list[SentMessage]:
        return [m for m in fake.sent_to(chat) if m.message_id >= first]

    appeal(updates, "Uralsk City Court", body=long_body)
    await app.reload()
    await eventually(lambda: len(since_first()) == 3, 30)
    parts = since_first()
    assert parts[0].message_id == first, "the first part is the message edited in place"
    assert "Paragraph 0" in parts[0].text and "Paragraph 19" in parts[2].text

    appeal(updates, "Oral Court")
    await app.reload()
    await eventually(lambda: len(since_first()) == 1 and "Oral" in since_first()[0].text, 30)
    shown = of_item(fake, chat)
    assert [m.message_id for m in shown] == [first] and "Oral Court" in shown[0].text
    assert {m for c, m in fake.deleted if c == chat} == {p.message_id for p in parts[1:]}
    assert await app.drain(timeout=10)
    counts = await app.store.queue_counts()
    assert ("telegram", "queued") not in counts and ("telegram", "sending") not in counts
