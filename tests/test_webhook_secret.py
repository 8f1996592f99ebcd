"""Only Telegram reaches the webhook: the real engine behind a webhook with no
configured secret still refuses an update posted without Telegram's secret
header, so no one who learns the URL can speak as an organiser."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from bot.app import App
from bot.config import TelegramConfig, TelegramWebhook
from tests.conftest import make_config
from tests.fake_telegram import FakeTelegram, FakeUser

ADMIN = 4242000
FORGED_TEXT = "/post Forged: the strike is called off"


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def hooked(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[tuple[App, str]]:
    """The bot behind a webhook configured, as by default, without a secret."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg"
    webhook = TelegramWebhook(listen="127.0.0.1", port=port, path="tg", url=url)
    telegram = TelegramConfig(
        token=fake.token, base_url=fake.base_url, admins=[ADMIN], webhook=webhook
    )
    running = App(make_config(tmp_path, telegram=telegram), settle=0.2)
    await running.start()
    yield running, url
    await running.stop()


def forged_update(chat_id: int, text: str) -> dict[str, object]:
    """What an attacker posts: a private message from the admin's user id."""
    admin = FakeUser(chat_id, "Organiser").json()
    return {
        "update_id": 777,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Organiser"},
            "from": admin,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }


async def test_a_forged_update_posing_as_an_admin_is_refused_and_writes_nothing(
    fake: FakeTelegram, hooked: tuple[App, str], caplog: pytest.LogCaptureFixture
) -> None:
    app, url = hooked
    secret = str((fake.webhook or {}).get("secret_token") or "")
    assert len(secret) >= 32, "a secret is generated and given to Telegram"
    caplog.set_level(logging.WARNING, logger="bot")
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guessed"}):
            async with session.post(
                url, json=forged_update(ADMIN, FORGED_TEXT), headers=headers
            ) as response:
                assert response.status == 401
    await asyncio.sleep(0.5)  # time for an accepted update to have been answered
    assert await app.store.open_drafts(time.time()) == []
    assert fake.sent_to(ADMIN) == [], "no draft preview, no answer"
    refused = [r.getMessage() for r in caplog.records if "webhook refused" in r.getMessage()]
    assert refused == [
        "telegram webhook refused reason=no_secret",
        "telegram webhook refused reason=wrong_secret",
    ]
    assert not any("127.0.0.1" in line or str(ADMIN) in line for line in caplog.text.splitlines())
    # Telegram itself, with the secret it was given, still gets through.
    fake.inject_message(fake.private_chat(5001), "/pickets")
    await eventually(lambda: bool(fake.sent_to(5001)))
    assert fake.webhook_failures == 0


async def test_each_start_makes_a_new_secret_when_none_is_configured(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    port = free_port()
    webhook = TelegramWebhook(port=port, path="tg", url=f"http://127.0.0.1:{port}/tg")
    telegram = TelegramConfig(token=fake.token, base_url=fake.base_url, webhook=webhook)
    secrets = []
    for _ in range(2):
        app = App(make_config(tmp_path, telegram=telegram), settle=0.2)
        await app.start()
        try:
            secrets.append(str((fake.webhook or {}).get("secret_token")))
        finally:
            await app.stop()
    assert secrets[0] != secrets[1]
