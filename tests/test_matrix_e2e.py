"""The whole bot on Matrix: the real engine (`bot.app.App`) with the Matrix
adapter it builds from the config, a real Synapse, and supporters on real
matrix-nio clients reading what arrives, decrypted where the room is encrypted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Config, DatabaseConfig, MatrixConfig
from tests.matrix_client import MatrixTestUser, Received
from tests.synapse import RegisteredUser, SynapseServer, synapse_server

__all__ = ["synapse_server"]

APPEAL = """\
---
kind: appeal
title: Messages of solidarity for the Metallist strike committee
date: {date}
campaigns: [metallist]
expires: {expires}
addresses:
  - label: Strike committee
    postal: |
      417000 Republic of Kazakhstan
      Uralsk, ul. Udrinskaya d.1/1 kv. 9
---
The strike committee asks for messages of solidarity.
"""

NEWS = """\
---
kind: news
title: {title}
date: {date}
campaigns: [metallist]
---
The strikers held a meeting at the **factory gates** today.
"""


def config_for(tmp: Path, server: SynapseServer, bot: RegisteredUser) -> Config:
    return Config(
        updates_dir=tmp / "updates",
        database=DatabaseConfig(url=f"sqlite:///{tmp / 'bot.db'}"),
        timezone="UTC",
        matrix=MatrixConfig(
            homeserver=server.base_url,
            user_id=bot.user_id,
            password=bot.password,
            store_path=Path("matrix-store"),
        ),
        base_dir=tmp,
    )


class Running:
    """The bot process, which a test may restart with the same files."""

    def __init__(self, tmp: Path, server: SynapseServer) -> None:
        self.account = server.register()
        self.config = config_for(tmp, server, self.account)
        self.updates = tmp / "updates"
        self.updates.mkdir()
        today = datetime.now(UTC).date()
        # Old enough never to be broadcast, still active for /address.
        (self.updates / "metallist-solidarity.md").write_text(
            APPEAL.format(date=today - timedelta(days=10), expires=today + timedelta(days=60))
        )
        self.app: App | None = None

    @property
    def user_id(self) -> str:
        return self.account.user_id

    async def start(self) -> App:
        self.app = App(self.config, settle=0.2)
        await self.app.start()
        return self.app

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None

    def drop_update(self, name: str, title: str) -> None:
        """What an organiser does: write the file elsewhere, move it in."""
        text = NEWS.format(title=title, date=datetime.now(UTC).date())
        staging = self.updates.parent / name
        staging.write_text(text)
        staging.rename(self.updates / name)


@pytest.fixture
async def bot(synapse_server: SynapseServer, tmp_path: Path) -> AsyncIterator[Running]:
    running = Running(tmp_path, synapse_server)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def people(
    synapse_server: SynapseServer, tmp_path: Path
) -> AsyncIterator[list[MatrixTestUser]]:
    users = [await MatrixTestUser.create(synapse_server, tmp_path) for _ in range(2)]
    yield users
    for user in users:
        await user.close()


async def answers_after(
    user: MatrixTestUser, bot: Running, room_id: str, command: str, within: float = 20
) -> Received:
    """Type `command` and return the bot's first message after it in the room.

    Counted from the command's own event in this user's timeline, not from how
    many bot messages this client has seen: another member's answer may still
    be on its way to this client when the command is sent."""
    event_id = await user.say(room_id, command)

    def answer() -> Received | None:
        timeline = [m for m in user.received if m.room_id == room_id]
        mine = next((i for i, m in enumerate(timeline) if m.event_id == event_id), None)
        if mine is None:
            return None
        return next((m for m in timeline[mine + 1 :] if m.sender == bot.user_id), None)

    await user.wait_until(lambda: answer() is not None, f"the answer to {command}", within)
    found = answer()
    assert found is not None
    return found


async def open_direct_chat(user: MatrixTestUser, bot: Running) -> str:
    room_id = await user.create_room(invite=[bot.user_id], encrypted=True, direct=True)
    await user.wait_for_member(room_id, bot.user_id)
    return room_id


async def test_encrypted_direct_chat_start_update_and_address(
    bot: Running, people: list[MatrixTestUser]
) -> None:
    alice = people[0]
    room_id = await open_direct_chat(alice, bot)

    welcome = await answers_after(alice, bot, room_id, "/start")
    assert welcome.decrypted
    assert welcome.body.startswith("Welcome.")

    bot.drop_update("strike-meeting.md", "Strike meeting at the gates")
    (_, update) = await alice.wait_for_messages(bot.user_id, room_id, 2, within=30)
    assert update.decrypted
    assert update.msgtype == "m.notice"
    assert "Strike meeting at the gates" in update.body
    assert "<strong>factory gates</strong>" in (update.formatted_body or "")

    address = await answers_after(alice, bot, room_id, "!address")
    assert address.decrypted
    assert "Uralsk, ul. Udrinskaya d.1/1 kv. 9" in address.body
    # The update arrived once: nothing more came while the others were answered.
    await alice.wait_synced()
    bodies = [m.body for m in alice.messages_from(bot.user_id, room_id)]
    assert sum("Strike meeting at the gates" in b for b in bodies) == 1


async def test_group_room_moderator_subscribes_plain_member_is_refused(
    bot: Running, people: list[MatrixTestUser]
) -> None:
    moderator, member = people
    room_id = await moderator.create_room(invite=[bot.user_id, member.user_id], encrypted=False)
    await member.join(room_id)
    await moderator.wait_for_member(room_id, bot.user_id)

    refused = await answers_after(member, bot, room_id, "/subscribe")
    assert refused.body.startswith("Only a moderator (power level 50 or more)")
    # The room's creator (room version 12: no power-levels entry) may.
    welcome = await answers_after(moderator, bot, room_id, "/subscribe")
    assert welcome.body.startswith("Welcome.")

    bot.drop_update("group-news.md", "News for the branch room")
    await member.wait_for_messages(bot.user_id, room_id, 3, within=30)
    assert "News for the branch room" in member.messages_from(bot.user_id, room_id)[2].body


async def test_kicked_bot_unsubscribes_the_room(bot: Running, people: list[MatrixTestUser]) -> None:
    alice = people[0]
    room_id = await open_direct_chat(alice, bot)
    await answers_after(alice, bot, room_id, "/start")
    assert bot.app is not None
    store = bot.app.store
    subscription = await store.subscription("matrix", room_id)
    assert subscription is not None
    assert subscription.active

    await alice.kick(room_id, bot.user_id)
    deadline = time.monotonic() + 20
    while (sub := await store.subscription("matrix", room_id)) is not None and sub.active:
        assert time.monotonic() < deadline, "the kicked room is still subscribed"
        await asyncio.sleep(0.1)


async def test_restart_answers_nothing_twice_and_still_sends_encrypted(
    bot: Running, people: list[MatrixTestUser]
) -> None:
    alice = people[0]
    room_id = await open_direct_chat(alice, bot)
    await answers_after(alice, bot, room_id, "/start")
    await answers_after(alice, bot, room_id, "/address")

    await bot.stop()
    await bot.start()
    await alice.wait_synced()
    bot.drop_update("after-restart.md", "News after the restart")
    messages = await alice.wait_for_messages(bot.user_id, room_id, 3, within=30)
    await alice.wait_synced()
    await asyncio.sleep(1)  # room for a wrongly repeated answer to show up
    messages = alice.messages_from(bot.user_id, room_id)
    assert len(messages) == 3
    assert messages[0].body.startswith("Welcome.")
    assert "Uralsk" in messages[1].body
    assert "News after the restart" in messages[2].body
    assert messages[2].decrypted


async def test_an_update_sent_before_a_clean_restart_is_not_sent_again(
    bot: Running, people: list[MatrixTestUser]
) -> None:
    alice = people[0]
    room_id = await open_direct_chat(alice, bot)
    await answers_after(alice, bot, room_id, "/start")
    bot.drop_update("before-restart.md", "News before the restart")
    await alice.wait_for_messages(bot.user_id, room_id, 2, within=30)
    app = bot.app
    assert app is not None and await app.drain(timeout=10)
    counts = await app.store.queue_counts()
    assert counts == {("matrix", "sent"): 1}, counts  # recorded, nothing left in flight

    await bot.stop()
    await bot.start()
    await alice.wait_synced()
    await asyncio.sleep(3)  # room for a wrongly repeated update to show up
    await alice.wait_synced()
    bodies = [m.body for m in alice.messages_from(bot.user_id, room_id)]
    assert sum("News before the restart" in b for b in bodies) == 1, bodies
    assert all(m.decrypted for m in alice.messages_from(bot.user_id, room_id))
