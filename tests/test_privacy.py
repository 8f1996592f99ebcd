"""Privacy at rest: sealed identities in the store, turning the key on, over
and off, refusing a wrong key, channel-only mode and forgetting stopped chats.

The end-to-end check over the real platforms is tests/test_privacy_e2e.py.
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App
from bot.privacy.keys import Keyring, SealError, new_key, read_key
from bot.privacy_cli import NO_KEY_ARGUMENT
from bot.store import DatabaseError, Store, open_store
from bot.store.database import make_engine
from bot.store.schema import outbox, subscribers
from bot.store.sealing import reseal
from tests.conftest import make_config
from tests.recording import RecordingAdapter
from tests.test_delivery import news, subprocess_env

NOW = time.time()
TODAY = time.strftime("%Y-%m-%d", time.gmtime())
CHATS = [
    ("telegram", "7123456789"),
    ("telegram", "-1001234567890"),
    ("matrix", "!qRoom:chat.example"),
]


def keyring() -> Keyring:
    return Keyring(read_key(new_key()))


def leaks(data: bytes, chat_id: str) -> list[str]:
    """The forms in which `chat_id` appears in `data`."""
    found = [f"text {chat_id}"] if chat_id.encode() in data else []
    if chat_id.lstrip("-").isdigit():
        number = int(chat_id)
        for order in "<>":
            if struct.pack(f"{order}q", number) in data:
                found.append(f"int64 {order} {chat_id}")
    else:
        localpart, _, server = chat_id.partition(":")
        found += [f"part {p}" for p in (localpart, server) if p.encode() in data]
    return found


def sqlite_bytes(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


# The keys.


def test_a_key_opens_what_it_sealed_and_no_other_key_does() -> None:
    one, other = keyring(), keyring()
    sealed = one.seal("chat:telegram", "7123456789")
    assert one.open("chat:telegram", sealed) == "7123456789"
    assert one.seal("chat:telegram", "7123456789") != sealed  # a fresh nonce each time
    with pytest.raises(SealError):
        other.open("chat:telegram", sealed)
    with pytest.raises(SealError):  # sealed for another column
        one.open("chat:matrix", sealed)
    assert one.index("telegram", "1") == one.index("telegram", "1") != other.index("telegram", "1")
    assert one.check != other.check


@pytest.mark.parametrize("text", ["", "not base64!", "c2hvcnQ="])
def test_a_bad_key_is_refused_with_the_fix(text: str) -> None:
    with pytest.raises(ValueError, match="strikewire keygen"):
        read_key(text)


# The store with a key.


async def test_sealed_store_works_and_keeps_no_id(database_url: str) -> None:
    key = keyring()
    store = await open_store(database_url, key)
    try:
        for platform, chat in CHATS:
            await store.subscribe(platform, chat, None, NOW)
        await store.subscribe("telegram", "5550123", ["metallist"], NOW)
        assert await store.enqueue("item:a", "a", "", [], ["telegram", "matrix"], NOW) == 4
        rows = await store.claim("telegram", NOW, 10, 60) + await store.claim("matrix", NOW, 10, 60)
        assert sorted(r.chat_id for r in rows) == sorted([c for _, c in CHATS] + ["5550123"])
        await store.mark_sent([(r.id, f"90071992{r.id},90071993{r.id}") for r in rows], NOW)
        sub = await store.subscription("telegram", "5550123")
        assert sub is not None and sub.campaigns == {"metallist"}
        async with store.engine.connect() as conn:
            stored = (await conn.execute(select(outbox.c.chat_id, outbox.c.message_ids))).all()
            boxes = (await conn.execute(select(subscribers.c.chat_box))).scalars().all()
        assert all(index.startswith("i") for index, _ in stored)
        assert not any("9007199" in (ids or "") for _, ids in stored)
        assert all(boxes)
        target = await store.target_of(rows[0].id)
        assert target is not None and target[0] == (
            f"90071992{rows[0].id}",
            f"90071993{rows[0].id}",
        )
        await store.forget("telegram", "5550123")
        assert await store.subscription("telegram", "5550123") is None
        await store.move_chat("telegram", "-1001234567890", "-1009999999999")
        assert await store.subscription("telegram", "-1009999999999") is not None
    finally:
        await store.close()
    if database_url.startswith("sqlite"):
        data = sqlite_bytes(database_url)
        for _, chat in [*CHATS, ("telegram", "5550123"), ("telegram", "-1009999999999")]:
            assert leaks(data, chat) == []


async def test_turning_the_key_on_over_and_off_keeps_every_subscription(
    database_url: str,
) -> None:
    plain = await open_store(database_url)
    for n in range(300):
        await plain.subscribe("telegram", str(7_000_000_000 + n), None, NOW, language="de")
    await plain.subscribe("matrix", "!qRoom:chat.example", ["metallist"], NOW)
    await plain.enqueue("item:a", "a", "", [], ["telegram"], NOW)
    rows = await plain.claim("telegram", NOW, 500, 60)
    await plain.mark_sent([(r.id, f"m{r.chat_id}") for r in rows], NOW)
    await plain.close()

    first, second = keyring(), keyring()
    lines: list[str] = []
    sealed = await open_store(database_url, first, progress=lines.append)
    await sealed.close()
    assert lines and lines[-1] == "privacy: delivery records 300/300"
    if database_url.startswith("sqlite"):
        data = sqlite_bytes(database_url)
        assert [f for n in range(0, 300, 37) for f in leaks(data, str(7_000_000_000 + n))] == []
        assert leaks(data, "!qRoom:chat.example") == []

    engine = make_engine(database_url)
    try:
        done = await reseal(engine, first, second, lines.append)
        assert done is not None and (done.chats, done.records) == (301, 300)
    finally:
        await engine.dispose()
    with pytest.raises(DatabaseError, match="does not open this database"):
        await open_store(database_url, first)
    store = await open_store(database_url, second)
    try:
        sub = await store.subscription("telegram", "7000000123")
        assert sub is not None and sub.active and sub.language == "de"
        room = await store.subscription("matrix", "!qRoom:chat.example")
        assert room is not None and room.campaigns == {"metallist"}
        assert await store.subscriber_counts() == {"telegram": 300, "matrix": 1}
        target = await store.target_of(rows[5].id)
        assert target is not None and target[0] == (f"m{rows[5].chat_id}",)
    finally:
        await store.close()

    engine = make_engine(database_url)
    try:
        await reseal(engine, second, None, lines.append)
    finally:
        await engine.dispose()
    store = await open_store(database_url)
    try:
        assert await store.subscription("telegram", "7000000123") is not None
    finally:
        await store.close()


async def test_a_wrong_or_missing_key_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    store = await open_store(url, keyring())
    await store.subscribe("telegram", "7123456789", None, NOW)
    await store.close()
    before = hashlib.sha256((tmp_path / "bot.db").read_bytes()).hexdigest()
    with pytest.raises(DatabaseError, match="does not open this database"):
        await open_store(url, keyring())
    with pytest.raises(DatabaseError, match=r"encrypted and privacy\.key is not set"):
        await open_store(url)
    assert hashlib.sha256((tmp_path / "bot.db").read_bytes()).hexdigest() == before


def test_the_cli_refuses_a_wrong_key_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "updates").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text("database:\n  url: sqlite:///bot.db\nprivacy:\n  key: ${STRIKEWIRE_KEY}\n")
    env = subprocess_env()

    def strikewire(*args: str, key: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *" ".join(args).split(), "-c", str(config)],
            env={**env, "STRIKEWIRE_KEY": key},
            capture_output=True,
            text=True,
            timeout=60,
            input="",
            check=False,
        )

    right, wrong = new_key(), new_key()
    assert strikewire("run", key=right).returncode == 0  # creates the sealed database
    for command in ("status", "run", "encrypt", "check", "site -o out"):
        done = strikewire(command, key=wrong)
        assert done.returncode == 1, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("strikewire: privacy.key does not open this database")
    bad = strikewire("status", key="nonsense")
    assert bad.returncode == 2 and "strikewire keygen" in bad.stderr
    rotate = [sys.executable, "-m", "bot", "rotate-key", "-c", str(config)]
    refused = subprocess.run(
        [*rotate, "--new", wrong],
        env={**env, "STRIKEWIRE_KEY": right},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [f"strikewire: {NO_KEY_ARGUMENT}"]
    assert strikewire("status", key=right).returncode == 0, "--new changed nothing"
    # The new key on standard input, as `strikewire rotate-key < new.key`.
    rotated = subprocess.run(
        rotate,
        env={**env, "STRIKEWIRE_KEY": right},
        capture_output=True,
        text=True,
        timeout=60,
        input=wrong + "\n",
        check=False,
    )
    assert rotated.returncode == 0, rotated.stderr
    assert wrong not in rotated.stderr + rotated.stdout
    assert strikewire("status", key=wrong).returncode == 0
    assert strikewire("status", key=right).returncode == 1
    # Or in the environment; a mistyped one is refused, naming where it came from.
    third = new_key()
    again = subprocess.run(
        rotate,
        env={**env, "STRIKEWIRE_KEY": wrong, "STRIKEWIRE_NEW_KEY": third},
        capture_output=True,
        text=True,
        timeout=60,
        input="",
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert strikewire("status", key=third).returncode == 0
    typo = subprocess.run(
        rotate,
        env={**env, "STRIKEWIRE_KEY": third, "STRIKEWIRE_NEW_KEY": "nonsense"},
        capture_output=True,
        text=True,
        timeout=60,
        input="",
        check=False,
    )
    assert typo.stderr.strip() == (
        "strikewire: the new key ($STRIKEWIRE_NEW_KEY) is 6 bytes, not 32 "
        "(make one with `strikewire keygen`)"
    )


# Channel-only mode.


async def test_channel_only_stores_no_subscriber_and_posts_to_the_destination(
    tmp_path: Path, database_url: str
) -> None:
    tg = RecordingAdapter()
    config = make_config(
        tmp_path,
        database_url,
        privacy={"subscriptions": False, "follow": ["https://t.me/strike_news"]},
        destinations=[{"platform": "telegram", "chat": "-1001112223334"}],
    )
    app = App(config, adapters=[tg], watch=False)
    await app.start()
    try:
        [welcome] = await tg.say("42", "/start")
        assert "keeps no list of subscribers" in welcome and "https://t.me/strike_news" in welcome
        [answer] = await tg.say("42", "/subscribe metallist")
        assert "keeps no list of subscribers" in answer
        [helped] = await tg.say("42", "/help")
        assert "/stop" not in helped and "/address" in helped
        [addresses] = await tg.say("42", "/address")
        assert addresses  # answered without a subscription
        news(tmp_path / "updates")
        await app.reload()
        await tg.wait_for(lambda: bool(tg.received("-1001112223334")))
        assert await app.drain(timeout=10)
        assert "The strike goes on." in tg.received("-1001112223334")[0]
        assert tg.received("42") == []
        async with app.store.engine.connect() as conn:
            assert (await conn.execute(select(subscribers))).all() == []
    finally:
        await app.stop()


# Retention of stopped chats.


async def test_a_stopped_chat_is_deleted_after_keep_inactive(database_url: str) -> None:
    store = await open_store(database_url, keep_inactive=timedelta(days=7))
    try:
        await store.subscribe("telegram", "1", None, NOW, language="de")
        await store.stop("telegram", "1", now=NOW)
        kept = await store.subscription("telegram", "1")
        assert kept is not None and not kept.active and kept.language == "de"
        assert await store.purge_inactive(NOW + 6 * 86400) == 0
        assert await store.purge_inactive(NOW + 8 * 86400) == 1
        assert await store.subscription("telegram", "1") is None
    finally:
        await store.close()


async def test_by_default_stop_forgets_the_chat_at_once(tmp_path: Path) -> None:
    tg = RecordingAdapter()
    app = App(make_config(tmp_path), adapters=[tg], watch=False)
    await app.start()
    try:
        await tg.say("1", "/start")
        await tg.say("1", "/language de")
        await tg.say("1", "/stop")
        store: Store = app.store
        assert await store.subscription("telegram", "1") is None
    finally:
        await app.stop()


def test_channel_only_pages_link_to_the_channels_not_the_bot() -> None:
    from bot.web.site import channel_links

    assert channel_links(
        ["https://t.me/strike_news", "#strike-news:example.org", "ask at the gates"]
    ) == [
        ("telegram", "https://t.me/strike_news"),
        ("matrix", "https://matrix.to/#/#strike-news:example.org"),
    ]
