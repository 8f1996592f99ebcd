"""No identity in any log line, tracebacks included.

The bot runs as `strikewire run` in its own process against the fake Bot API
and a PostgreSQL server that is stopped and started again in the middle of a
broadcast; chats block it, refuse its HTML, move, and Telegram answers 429
and 502. Then every byte the process wrote is searched for each chat and
user id, the bot's token and the text of every message. Smaller tests format
records with the real formatter (bot/logs.py) the way `setup_logging`
installs it.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.logs import SafeFormatter
from bot.store.database import make_engine
from tests.conftest import write_update
from tests.fake_telegram import FakeTelegram, FakeUser
from tests.postgres import PostgresServer, started_postgres

ADMIN = 7_310_442_001
USERS = [7_310_442_100 + n for n in range(24)]
BLOCKED, BAD_HTML = USERS[0], USERS[1]
LATE_USERS = [7_310_443_000 + n for n in range(8)]  # write /start while the database is down
GROUP, MOVED_GROUP, NEW_GROUP = -7_310_444_001, -7_310_444_002, -1_007_310_444_002
GROUP_OWNER = 7_310_445_001
BODY = "Quiltmakers-of-Uralsk walk out at dawn"
SECOND_BODY = "Tinsmiths-of-Aktobe join the walkout"
POSTED = "Marmalade-committee votes tonight"
TODAY = date.today()


async def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not in time: {what}"
        await asyncio.sleep(0.05)


def secrets_in(output: bytes, fake: FakeTelegram) -> list[str]:
    """Every identity or message text that appears in `output`."""
    ids = [ADMIN, *USERS, *LATE_USERS, GROUP, MOVED_GROUP, NEW_GROUP, GROUP_OWNER]
    words = [str(abs(i)) for i in ids] + [BODY, SECOND_BODY, POSTED, fake.token]
    # A part of a message's text is as telling as all of it.
    words += [w for phrase in (BODY, SECOND_BODY, POSTED) for w in phrase.split("-")[:1]]
    return [w for w in words if w.encode() in output]


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A server of this test's own: it is stopped and started during the test."""
    with started_postgres() as server:
        yield server


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    # A third of Telegram's overall rate: the bot's pace draws 429s.
    server = FakeTelegram(per_second=10)
    await server.start()
    yield server
    await server.stop()


def write_config(tmp_path: Path, fake: FakeTelegram, url: str) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"updates_dir: updates\ntimezone: UTC\ndatabase:\n  url: {url}\n"
        f"telegram:\n  token: '{fake.token}'\n  base_url: {fake.base_url}\n"
        f"  admins: [{ADMIN}]\n",
        encoding="utf-8",
    )
    (tmp_path / "updates").mkdir()
    return config


def news(folder: Path, name: str, title: str, body: str) -> None:
    write_update(folder, name, f"kind: news\ntitle: {title}\ndate: {TODAY}", body)


async def command(fake: FakeTelegram, chat_id: int, words: str, user: int) -> None:
    before = len(fake.sent_to(chat_id))
    fake.inject_message(fake.chats[chat_id], words, FakeUser(user))
    await eventually(lambda: len(fake.sent_to(chat_id)) > before, 20, f"an answer to {words}")


async def subscribe_everyone(fake: FakeTelegram) -> None:
    for user in [ADMIN, *USERS]:
        fake.private_chat(user, "Supporter")
    fake.group(GROUP, creator=GROUP_OWNER)
    fake.group(MOVED_GROUP, creator=GROUP_OWNER)
    await asyncio.gather(
        *(command(fake, user, "/start", user) for user in [ADMIN, *USERS]),
        command(fake, GROUP, f"/start@{fake.bot_username}", GROUP_OWNER),
        command(fake, MOVED_GROUP, f"/start@{fake.bot_username}", GROUP_OWNER),
    )
    await command(fake, ADMIN, f"/post {POSTED}", ADMIN)


def received(fake: FakeTelegram, words: str) -> int:
    return len({m.chat_id for m in fake.sent if words in m.text})


async def broadcast_through_a_database_restart(
    fake: FakeTelegram, server: PostgresServer, updates: Path
) -> None:
    fake.blocked.add(BLOCKED)
    fake.bad_html.add(BAD_HTML)
    fake.migrated[MOVED_GROUP] = NEW_GROUP
    news(updates, "walkout.md", "Walkout", BODY)
    await eventually(lambda: received(fake, BODY) >= 3, 30, "the broadcast under way")
    await asyncio.to_thread(server.halt)
    # While the database is down: commands, a reload, sends that fail.
    for user in LATE_USERS:
        fake.inject_message(fake.private_chat(user), "/start", FakeUser(user))
    news(updates, "second.md", "Second", SECOND_BODY)
    fake.fail_next = 3
    await asyncio.sleep(4)
    await asyncio.to_thread(server.resume)
    everyone = len(USERS) - 2 + 2  # less blocked and bad HTML, plus both groups
    await eventually(lambda: received(fake, BODY) >= everyone, 60, "the broadcast finished")


async def test_no_id_or_text_in_anything_the_bot_process_writes(
    tmp_path: Path, fake: FakeTelegram, own_postgres: PostgresServer
) -> None:
    config = write_config(tmp_path, fake, own_postgres.url)
    out = (tmp_path / "out").open("wb")
    bot = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "run", "-c", str(config), "--log-level", "DEBUG"),
        stdout=out,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
        cwd=tmp_path,
    )
    try:
        await eventually(lambda: bool(fake.calls_to("getUpdates")), 30, "the bot started")
        await subscribe_everyone(fake)
        await broadcast_through_a_database_restart(fake, own_postgres, tmp_path / "updates")
    finally:
        if bot.returncode is None:
            bot.terminate()
        await asyncio.wait_for(bot.wait(), 30)
        out.close()
    output = (tmp_path / "out").read_bytes()
    # The errors did happen and were logged, stack and type included ...
    assert b"Traceback (most recent call last)" in output
    assert b"sqlalchemy" in output or b"asyncpg" in output
    assert fake.too_many_requests > 0
    # ... and not one byte of them names anyone or says anything.
    assert secrets_in(output, fake) == []


@pytest.fixture
def formatted() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose records are formatted by the bot's one formatter."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(SafeFormatter())
    logger = logging.getLogger("bot.test_leaks")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, buffer
    finally:
        logger.removeHandler(handler)


async def test_a_failed_statement_logs_its_stack_and_type_but_not_its_values(
    tmp_path: Path, formatted: tuple[logging.Logger, io.StringIO]
) -> None:
    log, buffer = formatted
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    chat = str(USERS[5])
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT * FROM nowhere WHERE chat_id = :c"), {"c": chat})
    except Exception:
        log.exception("lookup failed")
    finally:
        await engine.dispose()
    written = buffer.getvalue()
    assert "Traceback (most recent call last)" in written
    assert "sqlalchemy.exc.OperationalError" in written
    assert chat not in written


def test_exceptions_given_as_values_and_library_texts_name_no_one(
    formatted: tuple[logging.Logger, io.StringIO],
) -> None:
    log, buffer = formatted
    room = "!" + str(USERS[6]) + ":example.org"
    log.warning("matrix: joining failed (%s); will retry", RuntimeError(f"no access to {room}"))
    library = logging.getLogger("nio.crypto.test_leaks")
    library.addHandler(log.handlers[0])
    try:
        library.warning(f"Missing session for device of {room}")
        library.error("Error while getting Updates: %s", room)
    finally:
        library.removeHandler(log.handlers[0])
    written = buffer.getvalue()
    assert "joining failed (RuntimeError); will retry" in written
    assert "Error while getting Updates: %s" in written  # the template stays
    assert str(USERS[6]) not in written


def test_an_uncaught_exception_prints_its_type_not_its_message(tmp_path: Path) -> None:
    import subprocess

    script = (
        "import sys; from bot.logs import setup_logging; setup_logging()\n"
        "raise LookupError('chat ' + sys.argv[1])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(USERS[7])],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert b"LookupError" in result.stderr
    assert str(USERS[7]).encode() not in result.stderr + result.stdout
