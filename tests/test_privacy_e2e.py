"""Privacy at rest, end to end: the real engine (`App`) with a privacy key,
the real Telegram adapter against the fake Bot API server, the real Matrix
adapter against a real Synapse, and the console chat, all at once.

Chats with known ids subscribe on each platform and receive a broadcast; the
SQLite file (with its -wal and -shm) and, on PostgreSQL, a `pg_dump` and the
database's own data files then hold none of those ids in any form a seized
disk would give up: as text, as a 64-bit integer either way round, as the
integer SQLite writes, as the Matrix room id or its parts. /forget still
forgets, a restart with the right key still delivers, and `strikewire run`
and `strikewire status` with a wrong key or none are refused in one line
without touching the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import struct
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select

import bot.app
from bot.adapters.base import Adapter
from bot.adapters.console import CHAT_ID as CONSOLE_CHAT
from bot.adapters.console import ConsoleAdapter
from bot.adapters.telegram_menu import Menu
from bot.app import App
from bot.config import Config, MatrixConfig, PrivacyConfig, TelegramConfig
from bot.privacy.keys import Keyring, new_key, read_key
from bot.store import Store
from bot.store.schema import adapter_state, outbox, subscribers
from tests.conftest import make_config, write_update
from tests.fake_telegram import FakeTelegram, SentMessage
from tests.matrix_client import MatrixTestUser, Received
from tests.postgres import PostgresServer
from tests.synapse import RegisteredUser, SynapseServer, synapse_server
from tests.test_delivery import subprocess_env
from tests.test_telegram_e2e import command, eventually

__all__ = ["synapse_server"]

# Telegram ids as big as real ones: a user's private chat beyond 32 bits, a
# supergroup (-100 followed by the channel's own id), and its admin.
PRIVATE = 7123456789
SUPERGROUP = -1001234567890
CHANNEL_ID = 1234567890  # the supergroup's id without Bot API's -100
GROUP_ADMIN = 6234567891
# The fake numbers each chat's messages after these, so they can be looked for.
MESSAGE_IDS_AFTER = {PRIVATE: 880_000_000, SUPERGROUP: 990_000_000}

FIRST = "Metallist strikers hold out for a fourth week"
SECOND = "Strike committee thanks every union branch"

WRONG_KEY = "strikewire: privacy.key does not open this database"
NO_KEY = "strikewire: the database is encrypted and privacy.key is not set"


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def drop_update(folder: Path, name: str, title: str) -> None:
    """What an organiser does: write the file elsewhere, move it in."""
    staging = folder.parent / "staging"
    write_update(staging, name, f"kind: news\ntitle: {title}\ndate: {today()}", "Solidarity.")
    (staging / name).rename(folder / name)


# What must not be found, and where it is looked for.

SQLITE, DUMP, DATA_FILES = "SQLite file", "pg_dump", "PostgreSQL data files"


def sqlite_integer(number: int) -> bytes | None:
    """`number` as SQLite writes an INTEGER in a record: big-endian in the
    fewest of 1, 2, 3, 4, 6 or 8 bytes. None below 4 bytes (any file is full
    of such short patterns) and at 8 (the int64 form looks for it)."""
    size = next(s for s in (1, 2, 3, 4, 6, 8) if -(2 ** (8 * s - 1)) <= number < 2 ** (8 * s - 1))
    return number.to_bytes(size, "big", signed=True) if size in (4, 6) else None


@dataclass
class Secrets:
    """Every identity the database must not give away, by what it is."""

    numbers: dict[str, int]
    texts: dict[str, str]
    # Legitimately stored: the bot's own Matrix account (the key of its sync
    # token, its matrix.to link for the web pages) names the homeserver. It is
    # cut out before looking for the homeserver's name, which must then
    # appear nowhere else (not in a room id, not in a supporter's user id).
    own: str
    server_name: str

    def forms(self, where: str) -> dict[str, bytes]:
        """What to look for in `where`: each number as decimal text and as a
        signed 64-bit integer either way round (PostgreSQL's int8 is
        little-endian on disk), in SQLite's file also as SQLite's own integer
        (its 4-byte form is too short to look for in megabytes of catalogs);
        each text as it is, except the console's chat id "local" in
        PostgreSQL's data files, whose system catalogs spell it in many names
        (localtime, pg_locale...; 22 times in an empty database)."""
        forms: dict[str, bytes] = {}
        for label, number in self.numbers.items():
            forms[f"{label} as text"] = str(number).encode()
            for order, name in ((">", "big"), ("<", "little")):
                forms[f"{label} as {name}-endian int64"] = struct.pack(f"{order}q", number)
            native = sqlite_integer(number)
            if where == SQLITE and native is not None:
                forms[f"{label} as SQLite's {len(native)}-byte integer"] = native
        for label, text in self.texts.items():
            if not (where == DATA_FILES and text == CONSOLE_CHAT):
                forms[label] = text.encode()
        return forms

    def found_in(self, blob: bytes, where: str) -> list[str]:
        found = [name for name, form in self.forms(where).items() if form in blob]
        if self.server_name.encode() in blob.replace(self.own.encode(), b""):
            found.append(f"the homeserver name {self.server_name} outside the bot's user id")
        return found


class Database:
    """The database under test, read the way whoever seized it would."""

    def __init__(self, url: str, server: PostgresServer | None) -> None:
        self.url = url
        self.server = server

    @property
    def path(self) -> Path:
        return Path(self.url.removeprefix("sqlite:///"))

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[1]

    def sqlite_files(self) -> dict[str, bytes]:
        """The database file and its -wal and -shm siblings, as they are on disk."""
        paths = [self.path, *(self.path.with_name(self.path.name + s) for s in ("-wal", "-shm"))]
        return {p.name: p.read_bytes() for p in paths if p.exists()}

    async def pg_dump(self) -> str:
        assert self.server is not None
        done = await asyncio.to_thread(
            subprocess.run,
            [
                str(self.server.bindir / "pg_dump"),
                "--no-owner",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.server.port),
                "-U",
                "strikewire",
                self.name,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "CREATE TABLE public.subscribers" in done.stdout
        return done.stdout

    async def pg_data_files(self) -> bytes:
        """Every file of this database in the server's data directory, after
        a checkpoint has written what was only in shared memory."""
        assert self.server is not None
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute("CHECKPOINT")
            oid = await conn.fetchval(
                "SELECT oid FROM pg_database WHERE datname = current_database()"
            )
        finally:
            await conn.close()
        folder = self.server.data / "base" / str(oid)
        files = sorted(p for p in folder.iterdir() if p.is_file())
        assert files, folder
        return b"".join(p.read_bytes() for p in files)

    async def leaks(self, secrets: Secrets) -> list[str]:
        """Each identity found, and where."""
        if self.server is None:
            return [
                f"{name}: {found}"
                for name, data in self.sqlite_files().items()
                for found in secrets.found_in(data, SQLITE)
            ]
        dump = (await self.pg_dump()).encode()
        data = await self.pg_data_files()
        return [f"{DUMP}: {f}" for f in secrets.found_in(dump, DUMP)] + [
            f"{DATA_FILES}: {f}" for f in secrets.found_in(data, DATA_FILES)
        ]

    async def fingerprint(self) -> dict[str, str]:
        """What would show any change: each SQLite file's digest, or the dump."""
        if self.server is None:
            # A reader of a WAL database makes the -shm index and an empty -wal
            # (a read-only one cannot remove them): neither holds data.
            return {
                n: hashlib.sha256(d).hexdigest()
                for n, d in self.sqlite_files().items()
                if not n.endswith("-shm") and (d or not n.endswith("-wal"))
            }
        # pg_dump 15.14+ opens with a random \restrict token; the rest is the data.
        lines = (await self.pg_dump()).splitlines()
        kept = [line for line in lines if not line.startswith(("\\restrict", "\\unrestrict"))]
        return {"pg_dump": hashlib.sha256("\n".join(kept).encode()).hexdigest()}


@pytest.fixture
def database(database_url: str, request: pytest.FixtureRequest) -> Database:
    server: PostgresServer | None = None
    if database_url.startswith("postgresql"):
        server = request.getfixturevalue("postgres_server")
    return Database(database_url, server)


# The bot on three platforms at once.


class Deployment:
    """One bot on Telegram, Matrix and the console, with a privacy key, which
    a test may stop and start again on the same database and files."""

    def __init__(
        self,
        tmp: Path,
        url: str,
        key: str,
        fake: FakeTelegram,
        synapse: SynapseServer,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        self.updates = tmp / "updates"
        self.updates.mkdir()
        self.account: RegisteredUser = synapse.register()
        self.config: Config = make_config(
            tmp,
            url,
            telegram=TelegramConfig(token=fake.token, base_url=fake.base_url),
            matrix=MatrixConfig(
                homeserver=synapse.base_url,
                user_id=self.account.user_id,
                password=self.account.password,
                store_path=Path("matrix-store"),
            ),
            privacy=PrivacyConfig(key=key),
        )
        self.app: App | None = None
        self.console_out = io.StringIO()
        self._console_in = ""
        real = bot.app.build_adapters

        # The adapters the config asks for, built as `strikewire run` builds
        # them, and the terminal's console chat beside them (which the real
        # wiring offers only when no platform is configured).
        def with_console(config: Config, store: Store, menu: Menu | None = None) -> list[Adapter]:
            console = ConsoleAdapter(io.StringIO(self._console_in), self.console_out)
            return [*real(config, store, menu), console]

        monkeypatch.setattr(bot.app, "build_adapters", with_console)

    async def start(self, typed_at_console: str = "") -> App:
        """Start the bot; `typed_at_console` is what the console's user types."""
        self.console_out = io.StringIO()
        self._console_in = typed_at_console
        self.app = App(self.config, settle=0.2)
        await self.app.start()
        return self.app

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None

    async def console_shows(self, text: str, within: float = 30) -> None:
        await eventually(lambda: text in self.console_out.getvalue(), within)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()  # Telegram's own limits
    await server.start()
    # Message ids distinct enough to look for in the files.
    server._message_ids.update(MESSAGE_IDS_AFTER)
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def key() -> str:
    return new_key()


@pytest.fixture
async def deployment(
    tmp_path: Path,
    database: Database,
    key: str,
    fake: FakeTelegram,
    synapse_server: SynapseServer,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Deployment]:
    running = Deployment(tmp_path, database.url, key, fake, synapse_server, monkeypatch)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def alice(synapse_server: SynapseServer, tmp_path: Path) -> AsyncIterator[MatrixTestUser]:
    user = await MatrixTestUser.create(synapse_server, tmp_path / "alice")
    try:
        yield user
    finally:
        await user.close()


async def matrix_answer(user: MatrixTestUser, bot_id: str, room_id: str, text: str) -> Received:
    """Type `text` in the room; the bot's first message after it."""
    event_id = await user.say(room_id, text)

    def answer() -> Received | None:
        timeline = [m for m in user.received if m.room_id == room_id]
        mine = next((i for i, m in enumerate(timeline) if m.event_id == event_id), None)
        if mine is None:
            return None
        return next((m for m in timeline[mine + 1 :] if m.sender == bot_id), None)

    await user.wait_until(lambda: answer() is not None, f"the answer to {text}", 30)
    found = answer()
    assert found is not None
    return found


def titled(messages: list[SentMessage], title: str) -> list[SentMessage]:
    return [m for m in messages if title in m.text]


def bodies_with(user: MatrixTestUser, bot_id: str, room_id: str, title: str) -> list[Received]:
    return [m for m in user.messages_from(bot_id, room_id) if title in m.body]


async def outbox_rows(store: Store) -> list[tuple[str, str, str | None, str | None]]:
    """(platform, chat_id, chat_box, message_ids) of each outbox row, as stored."""
    columns = (outbox.c.platform, outbox.c.chat_id, outbox.c.chat_box, outbox.c.message_ids)
    async with store.engine.connect() as conn:
        return [(str(p), str(c), b, m) for p, c, b, m in (await conn.execute(select(*columns)))]


async def subscriber_rows(store: Store) -> list[tuple[str, str, str | None]]:
    """(platform, chat_id, chat_box) of each subscriber, as stored."""
    columns = (subscribers.c.platform, subscribers.c.chat_id, subscribers.c.chat_box)
    async with store.engine.connect() as conn:
        return [(str(p), str(c), b) for p, c, b in (await conn.execute(select(*columns)))]


async def rows_for(store: Store, keyring: Keyring, platform: str, chat: str) -> int:
    """Rows naming one chat, found over its blind index as the store finds them."""
    index = keyring.index(platform, chat)
    count = 0
    async with store.engine.connect() as conn:
        for table in (subscribers, outbox):
            count += int(
                await conn.scalar(
                    select(func.count())
                    .select_from(table)
                    .where(table.c.platform == platform, table.c.chat_id == index)
                )
                or 0
            )
    return count


async def test_a_sealed_database_names_no_chat_and_the_bot_still_works(
    deployment: Deployment,
    database: Database,
    key: str,
    fake: FakeTelegram,
    alice: MatrixTestUser,
    synapse_server: SynapseServer,
) -> None:
    keyring = Keyring(read_key(key))
    bot_id = deployment.account.user_id
    app = await deployment.start(typed_at_console="/start\n")

    # Everyone subscribes: at the console, in a Telegram private chat and a
    # supergroup, and in an encrypted Matrix direct chat.
    await deployment.console_shows("Welcome.")
    assert "Welcome." in await command(fake, PRIVATE, "/start")
    group = fake.group(SUPERGROUP, creator=GROUP_ADMIN, supergroup=True)
    welcome = await command(fake, group.id, f"/start@{fake.bot_username}", user=GROUP_ADMIN)
    assert "Welcome." in welcome
    room_id = await alice.create_room(invite=[bot_id], encrypted=True, direct=True)
    await alice.wait_for_member(room_id, bot_id)
    assert (await matrix_answer(alice, bot_id, room_id, "/start")).body.startswith("Welcome.")
    chats = [
        ("telegram", str(PRIVATE)),
        ("telegram", str(SUPERGROUP)),
        ("matrix", room_id),
        ("console", CONSOLE_CHAT),
    ]
    for platform, chat in chats:
        sub = await app.store.subscription(platform, chat)
        assert sub is not None and sub.active, (platform, chat)

    # One broadcast reaches each of them once.
    drop_update(deployment.updates, "week-four.md", FIRST)
    await eventually(lambda: all(titled(fake.sent_to(c), FIRST) for c in (PRIVATE, SUPERGROUP)))
    await alice.wait_until(
        lambda: bool(bodies_with(alice, bot_id, room_id, FIRST)), "the first update", 30
    )
    await deployment.console_shows(FIRST)
    assert await app.drain(timeout=30)
    assert deployment.console_out.getvalue().count(FIRST) == 1

    # What each chat was sent (its message ids) is what the outbox holds,
    # sealed: every row's chat is a blind index and a box only the key opens.
    sent_ids: dict[tuple[str, str], str] = {}
    for telegram_chat in (PRIVATE, SUPERGROUP):
        numbers = [m.message_id for m in titled(fake.sent_to(telegram_chat), FIRST)]
        assert min(numbers) > MESSAGE_IDS_AFTER[telegram_chat]
        sent_ids[("telegram", str(telegram_chat))] = ",".join(map(str, numbers))
    events = [m.event_id for m in bodies_with(alice, bot_id, room_id, FIRST)]
    sent_ids[("matrix", room_id)] = ",".join(events)
    sent_ids[("console", CONSOLE_CHAT)] = CONSOLE_CHAT  # the console's own "message id"
    opened: dict[tuple[str, str], str] = {}
    for platform, index, box, ids in await outbox_rows(app.store):
        assert index.startswith("i") and box is not None and ids is not None
        chat = keyring.open(f"chat:{platform}", box)
        assert index == keyring.index(platform, chat)
        assert ids != sent_ids[(platform, chat)], "message ids stored in clear"
        opened[(platform, chat)] = keyring.open("messages", ids)
    assert opened == sent_ids
    subscribed = await subscriber_rows(app.store)
    assert sorted((p, keyring.open(f"chat:{p}", box or "")) for p, _, box in subscribed) == sorted(
        chats
    )
    assert all(index.startswith("i") for _, index, _ in subscribed)
    async with app.store.engine.connect() as conn:
        state = {str(k): str(v) for k, v in await conn.execute(select(adapter_state))}
    # What the adapters keep holds no chat: the Matrix sync token under the
    # bot's own user id, the subscribe links, the key's check value.
    assert not [k for k, v in state.items() if room_id in k + v or str(PRIVATE) in k + v]

    # What a seized disk holds: none of those ids, in any form. The console's
    # chat id "local" is looked for as text too: nothing else in the SQLite
    # file or the dump spells it (see Secrets.forms for PostgreSQL's files).
    room_local, _, room_server = room_id.removeprefix("!").partition(":")
    if room_server:  # rooms before version 12 name the server they were made on
        assert room_server == synapse_server.server_name
    secrets = Secrets(
        numbers={
            f"the private chat {PRIVATE}": PRIVATE,
            f"the supergroup {SUPERGROUP}": SUPERGROUP,
            f"the supergroup {SUPERGROUP} unsigned": -SUPERGROUP,
            f"the supergroup's channel id {CHANNEL_ID}": CHANNEL_ID,
            f"the group admin's user id {GROUP_ADMIN}": GROUP_ADMIN,
        },
        texts={
            "the Matrix room id": room_id,
            "the Matrix room id's localpart": room_local,
            "alice's Matrix user id": alice.user_id,
            "alice's Matrix localpart": alice.user_id.removeprefix("@").split(":")[0],
            "the console chat id": CONSOLE_CHAT,
        },
        own=bot_id,
        server_name=synapse_server.server_name,
    )

    def add_message_ids() -> None:
        """The ids of every message in those chats, as the platforms gave them."""
        for chat in (PRIVATE, SUPERGROUP):
            for m in fake.sent_to(chat):
                secrets.numbers[f"Telegram message id {m.message_id}"] = m.message_id
        for event in alice.received:
            if event.room_id == room_id:
                secrets.texts[f"Matrix event id {event.event_id}"] = event.event_id

    add_message_ids()
    assert await database.leaks(secrets) == [], "while the bot runs"

    # /forget from the private chat: its rows are gone, the others stay.
    before_forget = len(fake.sent_to(PRIVATE))
    assert "everything stored about this chat is deleted" in await command(fake, PRIVATE, "/forget")
    assert await app.store.subscription("telegram", str(PRIVATE)) is None
    assert await rows_for(app.store, keyring, "telegram", str(PRIVATE)) == 0
    for platform, chat in chats[1:]:
        sub = await app.store.subscription(platform, chat)
        assert sub is not None and sub.active, (platform, chat)
        assert await rows_for(app.store, keyring, platform, chat) == 2  # subscriber, outbox

    await deployment.stop()
    assert await database.leaks(secrets) == [], "after a clean stop"

    # A restart with the right key: the next update reaches the chats that
    # stayed, the first is not sent again, and the forgotten chat gets nothing.
    app = await deployment.start()
    await alice.wait_synced()
    drop_update(deployment.updates, "thanks.md", SECOND)
    await eventually(lambda: bool(titled(fake.sent_to(SUPERGROUP), SECOND)), 30)
    await alice.wait_until(
        lambda: bool(bodies_with(alice, bot_id, room_id, SECOND)), "the second update", 30
    )
    await deployment.console_shows(SECOND)
    assert await app.drain(timeout=30)
    await alice.wait_synced()
    await asyncio.sleep(1)  # room for a wrongly repeated message to show up
    assert len(titled(fake.sent_to(PRIVATE), FIRST)) == 1
    assert len(titled(fake.sent_to(SUPERGROUP), FIRST)) == 1
    assert len(titled(fake.sent_to(SUPERGROUP), SECOND)) == 1
    assert len(bodies_with(alice, bot_id, room_id, FIRST)) == 1
    assert len(bodies_with(alice, bot_id, room_id, SECOND)) == 1
    assert bodies_with(alice, bot_id, room_id, SECOND)[0].decrypted
    shown = deployment.console_out.getvalue()
    assert shown.count(SECOND) == 1 and FIRST not in shown
    assert len(fake.sent_to(PRIVATE)) == before_forget + 1  # only the /forget answer
    await deployment.stop()

    add_message_ids()
    assert await database.leaks(secrets) == [], "after the restart"


# The command line with a wrong key, or none.


def cli(
    tmp: Path, *args: str, key: str | None = None, typed: str = ""
) -> subprocess.CompletedProcess[str]:
    env = subprocess_env()
    env.pop("STRIKEWIRE_CONFIG", None)
    env.pop("STRIKEWIRE_KEY", None)
    if key is not None:
        env["STRIKEWIRE_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp,
        env=env,
        input=typed,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def write_config(tmp: Path, name: str, url: str, privacy: str) -> str:
    (tmp / name).write_text(
        f'updates_dir: updates\ndatabase:\n  url: "{url}"\ntimezone: UTC\n{privacy}'
    )
    return name


async def test_a_wrong_or_missing_key_is_refused_in_one_line_and_changes_nothing(
    tmp_path: Path, database: Database, key: str
) -> None:
    (tmp_path / "updates").mkdir()
    write_update(tmp_path / "updates", "news.md", f"kind: news\ntitle: {FIRST}\ndate: {today()}")
    # The operator's config reads the key from the environment.
    right = write_config(
        tmp_path, "config.yaml", database.url, "privacy:\n  key: ${STRIKEWIRE_KEY}\n"
    )
    started = await asyncio.to_thread(cli, tmp_path, "run", "-c", right, key=key, typed="/start\n")
    assert started.returncode == 0, started.stderr[-2000:]
    assert "Welcome." in started.stdout
    before = await database.fingerprint()
    assert before

    # Another key written into the config, and no key at all.
    wrong = write_config(tmp_path, "wrong.yaml", database.url, f'privacy:\n  key: "{new_key()}"\n')
    none = write_config(tmp_path, "none.yaml", database.url, "")
    for config, refusal in ((wrong, WRONG_KEY), (none, NO_KEY)):
        for subcommand in ("run", "status"):
            done = await asyncio.to_thread(
                cli, tmp_path, subcommand, "-c", config, typed="/start\n"
            )
            assert done.returncode == 1, (subcommand, config, done.stderr[-2000:])
            lines = done.stderr.splitlines()
            assert len(lines) == 1, (subcommand, config, done.stderr)
            assert lines[0].startswith(refusal), (subcommand, config, lines)
            assert "nothing was changed" in lines[0]
            assert done.stdout == "", (subcommand, config)
    assert await database.fingerprint() == before, "a refused start changed the database"

    # The right key still opens it, with the console's subscription in it.
    status = await asyncio.to_thread(cli, tmp_path, "status", "-c", right, key=key)
    assert status.returncode == 0, status.stderr
    assert "Subscribers: 1 (console 1)" in status.stdout
