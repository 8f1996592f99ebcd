"""Publishing from a private Telegram chat, end to end: the real engine, the
real adapter and PTB against the fake Bot API server with Telegram's limits
and real latency. An admin's bold text and link become Markdown in the file,
the preview is what subscribers get, every subscriber gets the update once,
/edit edits it, /withdraw deletes it, /halt stops a broadcast under way."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from bot.config import TelegramConfig
from bot.content.catalog import Catalog
from tests.conftest import make_config
from tests.fake_telegram import FakeTelegram, FakeUser
from tests.fake_telegram_files import FakeFile
from tests.test_telegram_e2e import command, eventually

ADMIN, SECOND_ADMIN, SUPPORTER = 4242000, 4242001, 5000
TITLE_LINE = "/post Strike at Metallist, day 12"
POST = f"{TITLE_LINE}\nThe workers voted to go on."


def entities() -> list[dict[str, object]]:
    """Bold on "Metallist" and a link on "voted", as Telegram sends them."""
    bold = POST.index("Metallist")
    link = POST.index("voted")
    return [
        {"type": "bold", "offset": bold, "length": len("Metallist")},
        {"type": "text_link", "offset": link, "length": 5, "url": "https://example.org/vote"},
    ]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(latency=0.05, jitter=0.02, seed=12)
    await server.start()
    yield server
    await server.stop()


async def running(tmp_path: Path, fake: FakeTelegram, **publishing: object) -> App:
    telegram = TelegramConfig(
        token=fake.token, base_url=fake.base_url, admins=[ADMIN, SECOND_ADMIN]
    )
    config = make_config(tmp_path, telegram=telegram, publishing=publishing)
    app = App(config, settle=0.2)
    await app.start()
    return app


@pytest.fixture
async def app(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[App]:
    started = await running(tmp_path, fake)
    yield started
    await started.stop()


async def answers(
    fake: FakeTelegram, chat_id: int, text: str, count: int, **kw: object
) -> list[str]:
    """Send `text` from `chat_id` (its own user) and return the next `count` answers."""
    chat = fake.chats.get(chat_id) or fake.private_chat(chat_id)
    before = len(fake.sent_to(chat_id))
    fake.inject_message(chat, text, FakeUser(chat_id), **kw)  # type: ignore[arg-type]
    await eventually(lambda: len(fake.sent_to(chat_id)) >= before + count)
    return [m.text for m in fake.sent_to(chat_id)[before : before + count]]


def updates(app: App) -> list[Path]:
    return sorted(app.config.updates_path.glob("*.md"))


def got_update(fake: FakeTelegram, chat_id: int) -> int:
    return sum("The workers" in m.text for m in fake.sent_to(chat_id))


async def test_an_admin_publishes_edits_and_withdraws(fake: FakeTelegram, app: App) -> None:
    subscribers = [6001, 6002, 6003, 6004]
    for chat in subscribers:
        await command(fake, chat, "/start", user=chat)

    assert await command(fake, SUPPORTER, POST, user=SUPPORTER) == "/post is for the bot's admins."
    assert await command(fake, SUPPORTER, "/publish", user=SUPPORTER) == (
        "/publish is for the bot's admins."
    )

    preview, summary = await answers(fake, ADMIN, POST, 2, entities=entities())
    # The preview is the broadcast as Telegram renders it: bold title, the link.
    assert preview.startswith("<b>Strike at Metallist, day 12</b>")
    assert '<a href="https://example.org/vote">voted</a>' in preview
    assert "Goes to 4 chats now; languages: en." in summary
    assert not updates(app)

    [done] = await answers(fake, ADMIN, "/publish", 1)
    assert done == "Published as strike-at-metallist-day-12: 4 chats queued."
    await eventually(lambda: all(got_update(fake, c) == 1 for c in subscribers))
    assert await app.drain(15)
    [path] = updates(app)
    text = path.read_text()
    assert text.endswith("---\n\nThe workers [voted](https://example.org/vote) to go on.\n")
    assert "title: Strike at Metallist, day 12\n" in text
    assert Catalog(app.config.updates_path, app.config.zone).load().problems == []
    for chat in subscribers:
        [update] = [m for m in fake.sent_to(chat) if "The workers" in m.text]
        assert update.text == preview, "subscribers get exactly the preview"

    edit = "/edit strike-at-metallist-day-12\nStrike at Metallist, day 13\nThe workers voted again."
    _preview, effect = await answers(fake, ADMIN, edit, 2)
    assert effect.startswith("Edits its message in 4 chats.")
    [corrected] = await answers(fake, ADMIN, "/publish", 1)
    assert corrected.startswith("Correction of strike-at-metallist-day-12 published.")
    await eventually(lambda: len(fake.edits) == 4)
    assert all("voted again" in m.text for m in fake.edits)

    [ask] = await answers(fake, ADMIN, "/withdraw strike-at-metallist-day-12 Wrong day", 1)
    assert "Takes back the messages sent to 4 chats" in ask
    [gone] = await answers(fake, ADMIN, "/publish", 1)
    assert gone == "strike-at-metallist-day-12 withdrawn: taking back its messages from 4 chats."
    await eventually(lambda: len(fake.deleted) == 4)
    assert {chat for chat, _ in fake.deleted} == set(subscribers)
    assert await app.drain(15)
    status = await app.status()
    assert "queued" not in status and "sending" not in status


async def test_documents(fake: FakeTelegram, app: App) -> None:
    good = fake.files.add("hearing.md", b"# Hearing on Monday\n\nCome to the court at 10:00.\n")
    fake.inject_document(fake.private_chat(ADMIN), good, FakeUser(ADMIN), caption="/post")
    await eventually(lambda: len(fake.sent_to(ADMIN)) >= 2)
    preview = fake.sent_to(ADMIN)[0].text
    assert "Hearing on Monday" in preview and "Come to the court at 10:00." in preview

    huge = fake.files.add("huge.md", b"x" * (2 * 1024 * 1024))
    fake.inject_document(fake.private_chat(ADMIN), huge, FakeUser(ADMIN), caption="/post")
    await eventually(lambda: len(fake.sent_to(ADMIN)) >= 3)
    assert fake.sent_to(ADMIN)[2].text == (
        "huge.md is 2.0 MB; an update file may be at most 1 MB. Split it into several updates."
    )
    assert [c for c in fake.files.get_file_calls if c == huge.file_id] == []

    # A file Telegram no longer has (getFile fails): the admin is told to resend.
    lost = FakeFile("BQACAgIAAxLOST", "lost.md", b"# Lost\n\nText.\n", "text/markdown", 15)
    fake.inject_document(fake.private_chat(ADMIN), lost, FakeUser(ADMIN), caption="/post")
    await eventually(lambda: len(fake.sent_to(ADMIN)) >= 4)
    assert fake.sent_to(ADMIN)[3].text == "lost.md could not be fetched. Send it again."


async def test_two_keys_and_the_brake(tmp_path: Path, fake: FakeTelegram) -> None:
    app = await running(tmp_path, fake, approvals=2)
    try:
        chats = list(range(7000, 7300))
        now = time.time()
        for chat in chats:
            fake.private_chat(chat)
            await app.store.subscribe("telegram", str(chat), None, now)
        _preview, summary = await answers(fake, ADMIN, POST, 2)
        draft = summary.split("Draft ", 1)[1].split(".", 1)[0]
        [waits] = await answers(fake, ADMIN, "/publish", 1)
        assert waits == f"Draft {draft} waits for 1 more admin to send /approve {draft}."
        [again] = await answers(fake, ADMIN, f"/approve {draft}", 1)
        assert "counted already" in again
        # The second admin is told (their private chat is an admin chat).
        await eventually(
            lambda: any(f"/approve {draft}" in m.text for m in fake.sent_to(SECOND_ADMIN))
        )
        assert not updates(app)

        [done] = await answers(fake, SECOND_ADMIN, f"/approve {draft}", 1)
        assert done == "Published as strike-at-metallist-day-12: 300 chats queued."
        await eventually(lambda: sum(got_update(fake, c) for c in chats) >= 30)
        [halted] = await answers(fake, ADMIN, "/halt strike-at-metallist-day-12", 1)
        assert await app.drain(15)
        got = sum(got_update(fake, c) for c in chats)
        assert 30 <= got < 300
        item = "strike-at-metallist-day-12"
        assert halted.startswith(
            f"Halted {item}: {300 - got} chats will not get it; {got} already did."
        )
        assert all(got_update(fake, c) <= 1 for c in chats)
    finally:
        await app.stop()
