"""End to end on Telegram: the real engine (`App`) with the real adapter and
PTB, against the fake Bot API server with Telegram's own limits. Supporters
and groups subscribe by command, an update file dropped into `updates/`
reaches each exactly once, commands answer, and every kind of failing chat
is handled the way the delivery promise says."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.config import TelegramConfig
from tests.conftest import make_config, write_update
from tests.fake_telegram import FakeTelegram, FakeUser, SentMessage

ADMIN = 4242000
TODAY = date.today()
TITLE = "Metallist strikers hold out for a fourth week"


async def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def catalogue(folder: Path) -> None:
    """An appeal and a picket, too old to be broadcast, listed by the commands."""
    old = TODAY - timedelta(days=10)
    write_update(
        folder,
        "solidarity.md",
        f"""
        kind: appeal
        title: Messages of solidarity for the strike committee
        date: {old}
        campaigns: [metallist]
        expires: {TODAY + timedelta(days=60)}
        addresses:
          - label: Strike committee
            postal: |
              417000 Republic of Kazakhstan
              Uralsk, ul. Udrinskaya d.1/1 kv. 9
    """,
        "Send a short message, signed by your union branch.",
    )
    write_update(
        folder,
        "pickets.md",
        f"""
        kind: picket
        title: Day of solidarity pickets
        date: {old}
        campaigns: [metallist]
        starts: {TODAY + timedelta(days=40)}T12:00:00+05:00
        places:
          - {{city: Uralsk, where: Factory gates, time: "12:00", timezone: Asia/Oral}}
          - {{city: Berlin, where: Embassy, time: "12:00", timezone: Europe/Berlin}}
    """,
        "Bring banners.",
    )


def news_body() -> str:
    # Longer than one Telegram message: it must arrive in parts, in order.
    return "\n\n".join(
        f"Day {n}: the strike committee reports that workers & families <still> stand "
        "together at the gates; " + "solidarity messages keep arriving. " * 8
        for n in range(1, 25)
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()  # Telegram's limits: 30/s, 1/s per private chat, 20/min per group
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def app(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[App]:
    catalogue(tmp_path / "updates")
    telegram = TelegramConfig(token=fake.token, base_url=fake.base_url, admins=[ADMIN])
    running = App(make_config(tmp_path, telegram=telegram), settle=0.2)
    await running.start()
    yield running
    await running.stop()


def texts(messages: list[SentMessage]) -> list[str]:
    return [m.text for m in messages]


async def command(fake: FakeTelegram, chat_id: int, text: str, user: int | None = None) -> str:
    """Type `text` in a chat and return the bot's answer."""
    chat = fake.chats.get(chat_id) or fake.private_chat(chat_id)
    before = len(fake.sent_to(chat_id))
    fake.inject_message(chat, text, FakeUser(user) if user else None)
    await eventually(lambda: len(fake.sent_to(chat_id)) > before)
    return fake.sent_to(chat_id)[before].text


async def test_an_update_reaches_every_subscriber_once(
    tmp_path: Path, fake: FakeTelegram, app: App
) -> None:
    users = [5001, 5002, 5003, 5004]
    blocked, malformed = 5003, 5004
    group = fake.group(-5100, creator=5101, admins={5102})
    migrating = fake.group(-5200, creator=5201)

    for user in users:
        assert "now receives every update" in await command(fake, user, "/start")
    refused = await command(fake, group.id, f"/start@{fake.bot_username}", user=5103)
    assert "admin" in refused.lower()  # a plain member may not subscribe the group
    await command(fake, group.id, f"/start@{fake.bot_username}", user=5102)
    await command(fake, migrating.id, "/start", user=5201)
    for chat in [*users, group.id, migrating.id]:
        sub = await app.store.subscription("telegram", str(chat))
        assert sub is not None and sub.active

    fake.blocked.add(blocked)
    fake.bad_html.add(malformed)
    fake.migrated[migrating.id] = -1005200
    answered = {chat: len(fake.sent_to(chat)) for chat in [*users, group.id]}
    write_update(
        tmp_path / "updates",
        "week-four.md",
        f"""
        kind: news
        title: {TITLE}
        date: {TODAY}
        campaigns: [metallist]
    """,
        news_body(),
    )

    receivers = [5001, 5002, group.id, -1005200]
    await eventually(
        lambda: all(any(TITLE in m.text for m in fake.sent_to(c)) for c in receivers), timeout=30
    )
    assert await app.drain(timeout=30)

    for chat in receivers:
        parts = fake.sent_to(chat)[answered.get(chat, 0) :]
        assert len(parts) >= 2, "the long update is split into several messages"
        assert sum(TITLE in m.text for m in parts) == 1, "exactly once"
        assert parts[0].text.startswith(f"<b>{TITLE}</b>")
        assert all(m.parse_mode == "HTML" for m in parts)
        joined = "".join(texts(parts))
        assert "workers &amp; families &lt;still&gt; stand" in joined
        days = [joined.index(f"Day {n}:") for n in range(1, 25)]
        assert days == sorted(days), "parts arrive in order"
        assert len(parts) == len({m.message_id for m in parts})

    gone = await app.store.subscription("telegram", str(blocked))
    assert gone is None, "a blocked user is unsubscribed and forgotten"
    assert fake.sent_to(-5200)[1:] == [], "nothing at the migrated group's old id"
    moved = await app.store.subscription("telegram", "-1005200")
    assert moved is not None and moved.active
    # The malformed message was refused once and never tried again.
    tries = [p for p in fake.calls_to("sendMessage") if str(p["chat_id"]) == str(malformed)]
    assert len(tries) == 2  # the /start answer, then the one refused broadcast part
    await asyncio.sleep(1.5)
    assert (
        len([p for p in fake.calls_to("sendMessage") if str(p["chat_id"]) == str(malformed)]) == 2
    )
    assert fake.too_many_requests == 0


async def test_supporters_commands_answer(fake: FakeTelegram, app: App) -> None:
    appeals = await command(fake, 5301, "/appeals")
    assert "Messages of solidarity for the strike committee" in appeals
    address = await command(fake, 5301, "/address")
    assert "Uralsk, ul. Udrinskaya d.1/1 kv. 9" in address
    assert "<pre>" in address or "<code>" in address  # ready to copy
    pickets = await command(fake, 5301, "/pickets")
    assert "Uralsk" in pickets
    assert "Berlin" in pickets
    group = fake.group(-5400, creator=5401)
    answer = await command(fake, group.id, f"/appeals@{fake.bot_username}", user=5402)
    assert "Messages of solidarity" in answer


async def test_status_is_for_configured_admins(fake: FakeTelegram, app: App) -> None:
    assert "admin" in (await command(fake, 5501, "/status")).lower()
    status = await command(fake, ADMIN, "/status")
    assert "subscri" in status.lower()


async def test_a_german_client_gets_german_from_start_and_a_german_menu(
    fake: FakeTelegram, app: App
) -> None:
    chat = fake.private_chat(777)
    before = len(fake.sent_to(777))
    fake.inject_message(chat, "/start", FakeUser(777, language_code="de"))
    await eventually(lambda: len(fake.sent_to(777)) > before)
    welcome = fake.sent_to(777)[before].text
    assert "Willkommen." in welcome and "Welcome" not in welcome
    pickets = await command(fake, 777, "/pickets")  # the chat keeps its language
    assert re.search(r"\b(Mo|Di|Mi|Do|Fr|Sa|So)\., \d+\. ", pickets), pickets
    menu = {c["command"]: c["description"] for c in fake.commands['{"type": "default"}:de']}
    assert menu["help"] != "this list" and "start" in menu
    english = {c["command"]: c["description"] for c in fake.commands['{"type": "default"}']}
    assert english["help"] == "this list"
    assert {'{"type": "default"}:ru', '{"type": "default"}:kk'} <= set(fake.commands)
