"""Publishing from an encrypted Matrix direct room, against the real Synapse:
a configured admin posts Markdown (and a file), sees the preview, publishes;
a supporter's client decrypts the update once; a non-admin is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.content.catalog import Catalog
from tests.matrix_client import MatrixTestUser, Received
from tests.synapse import SynapseServer, synapse_server
from tests.test_matrix_e2e import Running, open_direct_chat
from tests.test_matrix_e2e import people as people

__all__ = ["people", "synapse_server"]

POST = (
    "/post Strike at **Metallist**, day 12\nThe workers [voted](https://example.org/vote) to go on."
)


@pytest.fixture
async def bot(
    synapse_server: SynapseServer, tmp_path: Path, people: list[MatrixTestUser]
) -> AsyncIterator[Running]:
    """The bot with the first person as its configured admin."""
    running = Running(tmp_path, synapse_server)
    assert running.config.matrix is not None
    matrix = running.config.matrix.model_copy(update={"admins": [people[0].user_id]})
    running.config = running.config.model_copy(update={"matrix": matrix})
    await running.start()
    yield running
    await running.stop()


async def ask(
    user: MatrixTestUser, bot: Running, room_id: str, text: str | bytes, count: int
) -> list[Received]:
    """Type `text` (or send it as the file hearing.md) and return the next `count` answers."""
    before = len(user.messages_from(bot.user_id, room_id))
    if isinstance(text, bytes):
        await user.send_file(room_id, "hearing.md", text)
    else:
        await user.say(room_id, text)
    messages = await user.wait_for_messages(bot.user_id, room_id, before + count, 30)
    return messages[before : before + count]


async def test_an_admin_publishes_from_an_encrypted_direct_room(
    bot: Running, people: list[MatrixTestUser]
) -> None:
    admin, supporter = people
    admin_room = await open_direct_chat(admin, bot)
    supporter_room = await open_direct_chat(supporter, bot)
    await ask(supporter, bot, supporter_room, "/start", 1)
    [refused] = await ask(supporter, bot, supporter_room, POST, 1)
    assert refused.body == "/post is for the bot's admins."

    preview, summary = await ask(admin, bot, admin_room, POST, 2)
    assert preview.decrypted
    assert "<strong>Strike at Metallist, day 12</strong>" in (preview.formatted_body or "")
    assert '<a href="https://example.org/vote">voted</a>' in (preview.formatted_body or "")
    assert "Goes to 1 chat now; languages: en." in summary.body

    [done] = await ask(admin, bot, admin_room, "/publish", 1)
    assert done.body == "Published as strike-at-metallist-day-12: 1 chat queued."
    await supporter.wait_until(
        lambda: any("The workers" in m.body for m in supporter.messages_from(bot.user_id)),
        "the update",
        30,
    )
    assert bot.app is not None and await bot.app.drain(20)
    updates = [m for m in supporter.messages_from(bot.user_id) if "The workers" in m.body]
    assert len(updates) == 1 and updates[0].decrypted
    assert updates[0].formatted_body == preview.formatted_body, "subscribers get the preview"
    file = bot.updates / "strike-at-metallist-day-12.md"
    assert "The workers [voted](https://example.org/vote) to go on." in file.read_text()
    assert Catalog(bot.updates, bot.config.zone).load().problems == []

    hearing = b"# Hearing on Monday\n\nCome at 10:00.\n"
    file_preview, _summary = await ask(admin, bot, admin_room, hearing, 2)
    assert "Hearing on Monday" in file_preview.body and "Come at 10:00." in file_preview.body
