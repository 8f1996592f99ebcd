"""The Matrix adapter against a real Synapse, with real matrix-nio test users:
invites, encrypted direct chats, who may manage a room (room version 12
creators included), kicks, restarts, start-up errors, and a broadcast under
Synapse's default rate limits. The pure rules are checked on their own first.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.adapters.base import (
    MAX_DOCUMENT_BYTES,
    AdapterStartError,
    ChatGone,
    ChatKind,
    Document,
    Incoming,
    Outgoing,
    Rejected,
    RetryAfter,
    Transient,
)
from bot.adapters.matrix import MatrixAdapter
from bot.adapters.matrix_rules import RoomCreation, classify_error, may_manage, normalise_command
from bot.config import MatrixConfig
from tests.matrix_client import MatrixTestUser, MemoryKeyValue
from tests.synapse import (
    RegisteredUser,
    SynapseServer,
    synapse_default_limits,
    synapse_server,
)

__all__ = ["synapse_default_limits", "synapse_server"]


# The rules, without a server


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/start", "/start"),
        ("!address metallist", "/address metallist"),
        ("  /pickets  ", "/pickets"),
        ("hello", None),
        ("!", None),
        ("/ 1", None),
        ("!!", None),
    ],
)
def test_commands_are_slash_or_bang(body: str, expected: str | None) -> None:
    assert normalise_command(body) == expected


def test_room_v12_creator_manages_without_a_power_level() -> None:
    v12 = RoomCreation.from_event(
        "@alice:x", {"room_version": "12", "additional_creators": ["@c:x"]}
    )
    v11 = RoomCreation.from_event("@alice:x", {"room_version": "11"})

    def manages(sender: str, creation: RoomCreation) -> bool:
        return may_manage(
            sender=sender, member_count=5, power_level=0, creation=creation, admins=[]
        )

    assert manages("@alice:x", v12)
    assert manages("@c:x", v12)
    assert not manages("@bob:x", v12)
    # Before version 12 the creator's power comes from the power-levels list alone.
    assert not manages("@alice:x", v11)


def test_moderators_admins_and_direct_chats_manage() -> None:
    v12 = RoomCreation.from_event("@alice:x", {"room_version": "12"})
    assert may_manage(sender="@m:x", member_count=5, power_level=50, creation=v12, admins=[])
    assert not may_manage(sender="@m:x", member_count=5, power_level=49, creation=v12, admins=[])
    assert may_manage(sender="@o:x", member_count=5, power_level=0, creation=v12, admins=["@o:x"])
    assert may_manage(sender="@p:x", member_count=2, power_level=0, creation=v12, admins=[])


def test_homeserver_errors_tell_the_worker_what_to_do() -> None:
    limited = classify_error("M_LIMIT_EXCEEDED", 429, "Too Many Requests", 2500)
    assert isinstance(limited, RetryAfter)
    assert limited.seconds == 2.5
    assert isinstance(classify_error("M_FORBIDDEN", 403, "not in room", None), ChatGone)
    assert isinstance(classify_error("M_TOO_LARGE", 413, "event too large", None), Rejected)
    assert isinstance(classify_error("M_UNKNOWN", 502, "bad gateway", None), Transient)


# Against Synapse


class Core:
    """Stands in for the engine: records commands, answers each with Markdown."""

    def __init__(self) -> None:
        self.commands: list[Incoming] = []
        self.gone: list[tuple[str, str]] = []

    async def on_command(self, incoming: Incoming) -> list[Outgoing]:
        self.commands.append(incoming)
        return [Outgoing(f"**answer** to {incoming.text}")]

    async def on_chat_gone(self, platform: str, chat_id: str) -> None:
        self.gone.append((platform, chat_id))

    async def wait_for_commands(self, count: int, within: float = 20) -> list[Incoming]:
        deadline = time.monotonic() + within
        while len(self.commands) < count:
            assert time.monotonic() < deadline, f"only {self.commands} arrived"
            await asyncio.sleep(0.05)
        return self.commands


class Bot:
    """A bot account, its store and its sync-token state, across restarts."""

    def __init__(self, server: SynapseServer, tmp: Path, **config: object) -> None:
        self.server = server
        self.account: RegisteredUser = server.register()
        self.store = tmp / "matrix-store"
        self.state = MemoryKeyValue()
        self.config = MatrixConfig(
            homeserver=server.base_url,
            user_id=self.account.user_id,
            password=self.account.password,
            **config,  # type: ignore[arg-type]
        )
        self.core = Core()
        self.adapter: MatrixAdapter | None = None

    @property
    def user_id(self) -> str:
        return self.account.user_id

    async def start(self) -> MatrixAdapter:
        adapter = MatrixAdapter(self.config, store_path=self.store, state=self.state)
        await adapter.start(self.core.on_command, self.core.on_chat_gone)
        self.adapter = adapter
        return adapter

    async def wait_for_room(self, room_id: str) -> None:
        """Until the bot's own sync has brought it the room (it can send there)."""
        deadline = time.monotonic() + 20
        while self.adapter is None or room_id not in self.adapter.rooms():
            assert time.monotonic() < deadline, f"the bot never synced {room_id}"
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.adapter is not None:
            await self.adapter.stop()
            self.adapter = None


@pytest.fixture
async def bot(synapse_server: SynapseServer, tmp_path: Path) -> AsyncIterator[Bot]:
    bot = Bot(synapse_server, tmp_path)
    await bot.start()
    yield bot
    await bot.stop()


@pytest.fixture
async def alice(synapse_server: SynapseServer, tmp_path: Path) -> AsyncIterator[MatrixTestUser]:
    user = await MatrixTestUser.create(synapse_server, tmp_path)
    yield user
    await user.close()


@pytest.fixture
async def bob(synapse_server: SynapseServer, tmp_path: Path) -> AsyncIterator[MatrixTestUser]:
    user = await MatrixTestUser.create(synapse_server, tmp_path)
    yield user
    await user.close()


async def direct_chat(user: MatrixTestUser, bot: Bot) -> str:
    room_id = await user.create_room(invite=[bot.user_id], encrypted=True, direct=True)
    await user.wait_for_member(room_id, bot.user_id)
    await bot.wait_for_room(room_id)
    return room_id


async def test_encrypted_direct_chat_command_is_answered_and_decrypted(
    bot: Bot, alice: MatrixTestUser
) -> None:
    room_id = await direct_chat(alice, bot)
    await alice.say(room_id, "/address metallist")
    await alice.say(room_id, "hello there")
    await alice.say(room_id, "!pickets")
    (first, second) = await bot.core.wait_for_commands(2)
    assert first == Incoming(
        "matrix",
        room_id,
        ChatKind.PRIVATE,
        "/address metallist",
        True,
        False,
        markdown="/address metallist",
        sender=alice.user_id,
    )
    assert second.text == "/pickets"
    answers = await alice.wait_for_messages(bot.user_id, room_id, 2)
    assert [a.body for a in answers] == ["answer to /address metallist", "answer to /pickets"]
    assert all(a.decrypted and a.msgtype == "m.notice" for a in answers)
    assert "<strong>answer</strong>" in (answers[0].formatted_body or "")
    # The bot's own notices are never read back as commands.
    await alice.wait_synced()
    assert len(bot.core.commands) == 2


async def test_an_admins_post_and_files_in_an_encrypted_direct_chat_reach_the_core(
    synapse_server: SynapseServer, tmp_path: Path, alice: MatrixTestUser
) -> None:
    bot = Bot(synapse_server, tmp_path, admins=[alice.user_id])
    await bot.start()
    try:
        room_id = await direct_chat(alice, bot)
        update = b"---\nkind: news\ntitle: Strike day\n---\nWe **walk out** at 6.\n"
        await alice.say(room_id, "!post Strike day\nWe **walk out**\n\n1. at [six](https://x.org)")
        await alice.send_file(room_id, "strike-day.md", update, size=len(update))
        await alice.send_file(room_id, "fix.md", b"fixed", caption="/edit strike-day")
        await alice.send_file(room_id, "nosize.md", b"no size given")
        big = b"x" * (2 * 1024 * 1024)
        await alice.send_file(room_id, "long.md", big, caption="/post", size=len(big))
        post, file, edit, unsized, too_big = await bot.core.wait_for_commands(5)
        assert (post.text, post.sender, post.is_bot_admin) == (
            "/post Strike day\nWe **walk out**\n\n1. at [six](https://x.org)",
            alice.user_id,
            True,
        )
        assert post.markdown == post.text  # Element's body is the Markdown as typed
        assert (file.text, file.markdown, file.chat_kind) == ("/post", None, ChatKind.PRIVATE)
        assert file.document == Document("strike-day.md", len(update), update)  # decrypted
        assert (edit.text, edit.markdown) == ("/edit strike-day", "/edit strike-day")
        assert edit.document == Document("fix.md", 5, b"fixed")
        assert unsized.document == Document("nosize.md", 13, b"no size given")
        assert too_big.text == "/post"
        assert too_big.document == Document("long.md", len(big), None)
        assert too_big.document.size > MAX_DOCUMENT_BYTES
    finally:
        await bot.stop()


async def test_a_supporters_file_reaches_the_core_unfetched_and_group_files_are_chatter(
    bot: Bot, alice: MatrixTestUser, bob: MatrixTestUser
) -> None:
    room_id = await alice.create_room(invite=[bot.user_id], encrypted=False, direct=True)
    await alice.wait_for_member(room_id, bot.user_id)
    await bot.wait_for_room(room_id)
    await alice.send_file(room_id, "mine.md", b"hello", size=5)
    group = await alice.create_room(invite=[bot.user_id, bob.user_id], encrypted=False)
    await bob.join(group)
    await alice.wait_for_member(group, bot.user_id)
    await bot.wait_for_room(group)
    await alice.send_file(group, "chatter.md", b"x", size=1)
    await alice.send_file(group, "post.md", b"y", caption="/post", size=1)
    mine, posted = await bot.core.wait_for_commands(2)
    assert (mine.text, mine.is_bot_admin, mine.sender) == ("/post", False, alice.user_id)
    assert mine.document == Document("mine.md", 5, None)
    assert (posted.chat_kind, posted.text) == (ChatKind.GROUP, "/post")
    assert posted.document == Document("post.md", 1, None)
    await alice.wait_synced()
    assert len(bot.core.commands) == 2


async def test_broadcast_into_encrypted_room_arrives_once_decrypted(
    bot: Bot, alice: MatrixTestUser
) -> None:
    room_id = await direct_chat(alice, bot)
    assert bot.adapter is not None
    ids = await bot.adapter.send(room_id, Outgoing("# Strike news\n\nThe committee *thanks* you."))
    assert len(ids) == 1
    (update,) = await alice.wait_for_messages(bot.user_id, room_id, 1)
    assert update.decrypted
    assert update.event_id == ids[0]
    assert "Strike news" in update.body
    assert "<em>thanks</em>" in (update.formatted_body or "")
    await alice.wait_synced()
    assert len(alice.messages_from(bot.user_id)) == 1


async def test_room_creator_of_v12_room_manages_a_plain_member_does_not(
    bot: Bot, alice: MatrixTestUser, bob: MatrixTestUser
) -> None:
    room_id = await alice.create_room(invite=[bot.user_id, bob.user_id], encrypted=False)
    await bob.join(room_id)
    await alice.wait_for_member(room_id, bot.user_id)
    room = alice.client.rooms[room_id]
    assert room.room_version == "12"
    # The bug this guards against: nio reports the creator at level 0.
    assert room.power_levels.get_user_level(alice.user_id) == 0
    await alice.say(room_id, "/subscribe")
    await bot.core.wait_for_commands(1)
    await bob.say(room_id, "/subscribe")
    await bot.core.wait_for_commands(2)
    await alice.set_power_level(room_id, bob.user_id, 50)
    await alice.wait_synced()
    await bob.say(room_id, "!stop")
    creator, member, moderator = await bot.core.wait_for_commands(3)
    assert (creator.chat_kind, creator.may_manage) == (ChatKind.GROUP, True)
    assert (member.chat_kind, member.may_manage) == (ChatKind.GROUP, False)
    assert (moderator.text, moderator.may_manage) == ("/stop", True)


async def test_configured_admin_manages_any_room(
    synapse_server: SynapseServer, tmp_path: Path, alice: MatrixTestUser, bob: MatrixTestUser
) -> None:
    bot = Bot(synapse_server, tmp_path, admins=[bob.user_id])
    await bot.start()
    try:
        room_id = await alice.create_room(invite=[bot.user_id, bob.user_id], encrypted=False)
        await bob.join(room_id)
        await alice.wait_for_member(room_id, bot.user_id)
        await bob.say(room_id, "/status")
        (command,) = await bot.core.wait_for_commands(1)
        assert (command.may_manage, command.is_bot_admin) == (True, True)
    finally:
        await bot.stop()


async def test_kicked_bot_unsubscribes_the_room(bot: Bot, alice: MatrixTestUser) -> None:
    room_id = await direct_chat(alice, bot)
    await alice.kick(room_id, bot.user_id)
    deadline = time.monotonic() + 20
    while not bot.core.gone:
        assert time.monotonic() < deadline, "on_chat_gone was never called"
        await asyncio.sleep(0.05)
    assert bot.core.gone == [("matrix", room_id)]
    assert bot.adapter is not None
    with pytest.raises(ChatGone):
        await bot.adapter.send(room_id, Outgoing("anyone there?"))


async def test_bot_leaves_a_direct_chat_the_person_left(bot: Bot, alice: MatrixTestUser) -> None:
    room_id = await direct_chat(alice, bot)
    await alice.leave(room_id)
    deadline = time.monotonic() + 20
    while room_id in (bot.adapter.rooms() if bot.adapter else ()):
        assert time.monotonic() < deadline, "the bot stayed in the empty room"
        await asyncio.sleep(0.05)
    assert bot.core.gone == [("matrix", room_id)]


async def test_restart_is_the_same_device_and_answers_nothing_twice(
    bot: Bot, alice: MatrixTestUser
) -> None:
    room_id = await direct_chat(alice, bot)
    assert bot.adapter is not None
    device = bot.adapter.device_id
    await alice.say(room_id, "/address")
    await alice.wait_for_messages(bot.user_id, room_id, 1)
    await bot.stop()
    await alice.say(room_id, "/pickets")  # typed while the bot was down
    adapter = await bot.start()
    assert adapter.device_id == device
    await alice.wait_for_messages(bot.user_id, room_id, 2)
    await adapter.send(room_id, Outgoing("after the restart"))
    answers = await alice.wait_for_messages(bot.user_id, room_id, 3)
    assert [a.body for a in answers] == [
        "answer to /address",
        "answer to /pickets",
        "after the restart",
    ]
    assert all(a.decrypted for a in answers)
    await alice.wait_synced()
    assert [c.text for c in bot.core.commands] == ["/address", "/pickets"]


async def test_without_a_sync_token_history_is_not_answered(
    bot: Bot, alice: MatrixTestUser
) -> None:
    room_id = await direct_chat(alice, bot)
    await alice.say(room_id, "/address")
    await alice.wait_for_messages(bot.user_id, room_id, 1)
    await bot.stop()
    bot.state = MemoryKeyValue()  # the database was replaced; the store was kept
    await bot.start()
    await alice.say(room_id, "/pickets")
    answers = await alice.wait_for_messages(bot.user_id, room_id, 2)
    assert [a.body for a in answers] == ["answer to /address", "answer to /pickets"]
    assert [c.text for c in bot.core.commands] == ["/address", "/pickets"]


async def test_undecryptable_command_is_logged(
    bot: Bot, alice: MatrixTestUser, caplog: pytest.LogCaptureFixture
) -> None:
    room_id = await direct_chat(alice, bot)
    content = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg",
        "device_id": alice.account.device_id,
        "sender_key": "IlRMeOPX2e0MurIyfWEucYBRVOEEUMrOHqn/8mLqMjA",
        "session_id": "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ",
    }
    path = f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/send/m.room.encrypted/t1"
    with caplog.at_level(logging.WARNING, logger="bot.adapters.matrix_inbox"):
        alice.server.request("PUT", path, content, token=alice.account.access_token)
        deadline = time.monotonic() + 20
        while "cannot decrypt" not in caplog.text:
            assert time.monotonic() < deadline, "the undecryptable event left no trace"
            await asyncio.sleep(0.05)
    assert "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ" in caplog.text
    assert bot.core.commands == []


async def test_invites_from_other_servers_are_declined(
    synapse_server: SynapseServer, tmp_path: Path, alice: MatrixTestUser
) -> None:
    bot = Bot(synapse_server, tmp_path, allowed_servers=["elsewhere.example"])
    await bot.start()
    try:
        room_id = await alice.create_room(invite=[bot.user_id], encrypted=False)
        await alice.wait_until(
            lambda: bot.user_id not in alice.client.rooms[room_id].users, "invite declined"
        )
        assert bot.core.gone == []
    finally:
        await bot.stop()


async def test_wrong_password_is_one_clear_line(
    synapse_server: SynapseServer, tmp_path: Path
) -> None:
    account = synapse_server.register()
    config = MatrixConfig(
        homeserver=synapse_server.base_url, user_id=account.user_id, password="wrong"
    )
    adapter = MatrixAdapter(config, store_path=tmp_path / "store", state=MemoryKeyValue())
    with pytest.raises(AdapterStartError) as error:
        await adapter.start(Core().on_command, Core().on_chat_gone)
    assert "\n" not in str(error.value)
    assert "matrix.password" in str(error.value)


async def test_unreachable_homeserver_is_one_clear_line(tmp_path: Path) -> None:
    config = MatrixConfig(
        homeserver="http://127.0.0.1:9", user_id="@bot:strikewire.test", password="x"
    )
    adapter = MatrixAdapter(config, store_path=tmp_path / "store", state=MemoryKeyValue())
    with pytest.raises(AdapterStartError) as error:
        await adapter.start(Core().on_command, Core().on_chat_gone)
    assert "\n" not in str(error.value)
    assert "cannot reach http://127.0.0.1:9" in str(error.value)


# Under Synapse's own default rate limits


async def test_broadcast_to_30_rooms_under_default_limits_arrives_whole(
    synapse_default_limits: SynapseServer, tmp_path: Path
) -> None:
    server = synapse_default_limits
    alice = await MatrixTestUser.create(server, tmp_path)
    bot = Bot(server, tmp_path)
    # Setting up 30 rooms would itself take minutes under the default join and
    # invite limits: lift them for the setup, then restore them for the bot.
    server.lift_ratelimit(alice.user_id)
    server.lift_ratelimit(bot.user_id)
    adapter = await bot.start()
    try:
        rooms = [await alice.create_room(invite=[bot.user_id], encrypted=False) for _ in range(30)]
        for room_id in rooms:
            await alice.wait_for_member(room_id, bot.user_id, within=60)
        await alice.wait_synced()
        server.restore_ratelimit(bot.user_id)

        waits: list[float] = []
        delivered: set[str] = set()
        queue: asyncio.Queue[str] = asyncio.Queue()
        for room_id in rooms:
            queue.put_nowait(room_id)

        async def worker() -> None:
            """What the delivery worker does with RetryAfter: wait, then again."""
            while len(delivered) < len(rooms):
                try:
                    room_id = queue.get_nowait()
                except asyncio.QueueEmpty:
                    await asyncio.sleep(0.05)
                    continue
                try:
                    await adapter.send(room_id, Outgoing("**Solidarity pickets on 6 March**"))
                except RetryAfter as wait:
                    waits.append(wait.seconds)
                    await asyncio.sleep(wait.seconds)
                    queue.put_nowait(room_id)
                else:
                    delivered.add(room_id)

        async with asyncio.timeout(200):
            await asyncio.gather(*(worker() for _ in range(adapter.max_in_flight)))
        received = await alice.wait_for_messages(bot.user_id, None, 30, within=30)
        await alice.wait_synced()
        assert sorted(m.room_id for m in alice.messages_from(bot.user_id)) == sorted(rooms)
        assert waits, "the default limit never pushed back: was it on?"
        # Synapse's 0.2 messages/s: it asks for waits of up to 5 s, never more.
        assert all(0 < w <= 5.5 for w in waits)
        assert all(m.body == "Solidarity pickets on 6 March" for m in received)
    finally:
        await bot.stop()
        await alice.close()
