"""Organisers publish, correct, withdraw and halt from the chat (the core, any platform)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.base import ChatKind, Document
from bot.app import App
from bot.clock import FakeClock
from bot.content.catalog import Catalog
from tests.conftest import make_config, write_update
from tests.recording import RecordingAdapter, Timing

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ADMIN, OTHER_ADMIN, SUPPORTER = "100", "200", "300"


async def started(
    tmp_path: Path,
    *,
    approvals: int = 1,
    timing: Timing | None = None,
    clock: FakeClock | None = None,
    database_url: str | None = None,
) -> tuple[App, RecordingAdapter]:
    adapter = RecordingAdapter(timing=timing, max_in_flight=16)
    config = make_config(tmp_path, database_url, publishing={"approvals": approvals})
    app = App(config, adapters=[adapter], watch=False, clock=clock or FakeClock(NOW))
    await app.start()
    return app, adapter


@pytest.fixture
async def bot(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[App, RecordingAdapter]]:
    """On SQLite and on PostgreSQL."""
    app, adapter = await started(tmp_path, database_url=database_url)
    try:
        yield app, adapter
    finally:
        await app.stop()


async def subscribe(tg: RecordingAdapter, count: int) -> list[str]:
    chats = [f"chat{n}" for n in range(count)]
    for chat in chats:
        await tg.say(chat, "/start")
    return chats


async def admin(tg: RecordingAdapter, text: str, who: str = ADMIN, **kw: object) -> list[str]:
    return await tg.say(who, text, admin=True, **kw)  # type: ignore[arg-type]


def files_in(folder: Path) -> list[Path]:
    """Every file under `folder` but the database."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and ".db" not in p.name)


def updates(app: App) -> list[Path]:
    return sorted(app.config.updates_path.glob("*.md"))


POST = (
    "/post Strike at **Metallist**, day 12\n\n"
    "The workers [voted](https://example.org/vote) to go on.\n"
)


async def test_an_admin_posts_previews_and_publishes(bot: tuple[App, RecordingAdapter]) -> None:
    app, tg = bot
    chats = await subscribe(tg, 3)
    preview, summary = await admin(tg, POST)
    assert "Strike at Metallist, day 12" in preview
    assert "The workers voted (https://example.org/vote) to go on." in preview
    assert "Goes to 3 chats now; languages: en." in summary
    assert "/publish to send it" in summary
    assert not updates(app), "nothing is written before /publish"
    await asyncio.sleep(0.2)
    assert tg.sent == [], "nothing is sent before /publish"

    [done] = await admin(tg, "/publish")
    assert done == "Published as strike-at-metallist-day-12: 3 chats queued."
    assert await app.drain(10)
    for chat in chats:
        [update] = tg.received(chat)
        assert "The workers voted (https://example.org/vote) to go on." in update
    [path] = updates(app)
    text = path.read_text()
    assert text == (
        "---\nkind: news\ntitle: Strike at Metallist, day 12\ndate: 2026-12-01\n---\n\n"
        "The workers [voted](https://example.org/vote) to go on.\n"
    )
    check = Catalog(app.config.updates_path, app.config.zone).load()
    assert check.problems == [] and "strike-at-metallist-day-12" in check.items
    assert "queued" not in await app.status() and "sending" not in await app.status()
    assert await admin(tg, "/publish") == [
        "You have no open draft. /post writes one; /drafts lists all."
    ]


async def test_others_are_refused_and_nothing_is_stored(bot: tuple[App, RecordingAdapter]) -> None:
    app, tg = bot
    assert await tg.say(SUPPORTER, POST) == ["/post is for the bot's admins."]
    assert await tg.say(SUPPORTER, "/publish") == ["/publish is for the bot's admins."]
    in_group = await admin(tg, POST, kind=ChatKind.GROUP)
    assert in_group == ["Send /post in a private chat with me."]
    assert await app.store.open_drafts(NOW.timestamp()) == []
    [help_text] = await tg.say(SUPPORTER, "/help")
    assert "/post" not in help_text and "/calendar: the pickets as a calendar file" in help_text
    [admin_help] = await admin(tg, "/help")
    assert (
        "For the bot's admins" in admin_help
        and "/halt ID: stop a broadcast under way" in admin_help
    )


async def test_a_draft_survives_a_restart_and_expires(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    app, tg = await started(tmp_path, clock=clock)
    await admin(tg, POST)
    await app.stop()
    app, tg = await started(tmp_path, clock=clock)
    try:
        [listing] = await admin(tg, "/drafts")
        assert "Strike at Metallist, day 12 (yours)" in listing
        clock.advance(timedelta(hours=24, minutes=1))
        assert await admin(tg, "/publish") == [
            "You have no open draft. /post writes one; /drafts lists all."
        ]
        assert not updates(app)
    finally:
        await app.stop()


async def test_two_keys(tmp_path: Path) -> None:
    app, tg = await started(tmp_path, approvals=2)
    try:
        await subscribe(tg, 2)
        *_, summary = await admin(tg, POST)
        draft = summary.split("Draft ", 1)[1].split(".", 1)[0]
        [waits] = await admin(tg, "/publish")
        assert waits == f"Draft {draft} waits for 1 more admin to send /approve {draft}."
        [twice] = await admin(tg, f"/approve {draft}")
        assert "counted already" in twice
        assert not updates(app)
        [mine] = await admin(tg, f"/publish {draft}", who=OTHER_ADMIN)
        assert "another admin's" in mine
        [done] = await admin(tg, f"/approve {draft}", who=OTHER_ADMIN)
        assert done == "Published as strike-at-metallist-day-12: 2 chats queued."
        assert len(updates(app)) == 1
    finally:
        await app.stop()


async def test_halt_stops_a_broadcast_and_says_how_many_went(tmp_path: Path) -> None:
    app, tg = await started(tmp_path, timing=Timing(per_second=60, latency=0.02))
    try:
        chats = await subscribe(tg, 300)
        await admin(tg, POST)
        await admin(tg, "/publish")
        await tg.wait_for(lambda: len(tg.sent) >= 20)
        [answer] = await admin(tg, "/halt strike-at-metallist-day-12")
        assert await app.drain(15)
        got = sum(1 for c in chats if len(tg.received(c)) == 1)
        assert 20 <= got < 300
        assert answer.startswith(f"Halted strike-at-metallist-day-12: {300 - got} chats will not")
        assert f"{got} already did" in answer
        await asyncio.sleep(0.5)
        assert sum(1 for c in chats if len(tg.received(c)) == 1) == got
        status = await app.status()
        assert "queued" not in status and f"halted {300 - got}" in status
    finally:
        await app.stop()


async def test_edit_then_withdraw(bot: tuple[App, RecordingAdapter]) -> None:
    app, tg = bot
    chats = await subscribe(tg, 3)
    await admin(tg, POST)
    await admin(tg, "/publish")
    assert await app.drain(10)
    item = "strike-at-metallist-day-12"
    preview, effect = await admin(
        tg, f"/edit {item}\nStrike at Metallist, day 13\n\nThey voted again."
    )
    assert "They voted again." in preview
    assert effect.startswith("Edits its message in 3 chats.")
    [done] = await admin(tg, "/publish")
    assert done.startswith(f"Correction of {item} published.")
    await tg.wait_for(lambda: len(tg.edits) == 3)
    assert all("They voted again." in m.markdown for _, _, m in tg.edits)
    assert "date: 2026-12-01" in updates(app)[0].read_text()

    [ask] = await admin(tg, f"/withdraw {item} Published by mistake")
    assert "Takes back the messages sent to 3 chats" in ask and "/publish to withdraw it" in ask
    assert tg.taken_back == []
    [gone] = await admin(tg, "/publish")
    assert gone == f"{item} withdrawn: taking back its messages from 3 chats."
    await tg.wait_for(lambda: len(tg.taken_back) == 3)
    assert "withdrawn: Published by mistake" in updates(app)[0].read_text()
    assert {c for c, _ in tg.taken_back} == set(chats)


async def test_hostile_input(bot: tuple[App, RecordingAdapter], tmp_path: Path) -> None:
    app, tg = bot
    before = files_in(tmp_path)

    [long_title] = await admin(tg, "/post " + "x" * 5000 + "\nBody.")
    assert "line 1: title: is too long (at most 200 characters)" in long_title

    [passwd] = await admin(
        tg, "/post\n---\nid: ../../etc/passwd\nkind: news\ntitle: T\ndate: 2026-12-01\n---\nBody.\n"
    )
    assert passwd.startswith("Not published: the draft has problems.")
    assert "line 3: id:" in passwd

    [emoji] = await admin(tg, "/post 🔥")
    assert "the body is empty" in emoji

    [broken] = await admin(tg, "/post\n---\nkind: [news\ntitle: T\n---\nBody.\n")
    assert broken.startswith("Not published") and "line 4: broken YAML" in broken

    big = Document("huge.md", 2 * 1024 * 1024, None)
    [too_big] = await admin(tg, "/post", document=big)
    assert (
        too_big
        == "huge.md is 2.0 MB; an update file may be at most 1 MB. Split it into several updates."
    )

    # Two admins publish drafts with the same title at the same moment.
    await admin(tg, POST)
    await admin(tg, POST, who=OTHER_ADMIN)
    both = await asyncio.gather(admin(tg, "/publish"), admin(tg, "/publish", who=OTHER_ADMIN))
    ids = sorted(answer[0].split(" as ", 1)[1].split(":", 1)[0] for answer in both)
    assert ids == ["strike-at-metallist-day-12", "strike-at-metallist-day-12-2"]
    after = files_in(tmp_path)
    assert [p for p in after if p not in before] == sorted(
        app.config.updates_path / f"{i}.md" for i in ids
    )
    assert Catalog(app.config.updates_path, app.config.zone).load().problems == []


async def test_a_document_and_an_existing_id(bot: tuple[App, RecordingAdapter]) -> None:
    app, tg = bot
    write_update(app.config.updates_path, "court.md", "kind: news\ntitle: Court\ndate: 2026-12-01")
    await app.reload()
    file = b"---\nid: court\nkind: news\ntitle: Again\ndate: 2026-12-01\n---\nText.\n"
    [taken] = await admin(tg, "/post", document=Document("court.md", len(file), file))
    assert taken.startswith("The id court is already used by another update. /edit court")
    good = b"# Hearing on Monday\n\nCome to the court at 10:00.\n"
    preview, _summary = await admin(tg, "/post", document=Document("h.md", len(good), good))
    assert "Hearing on Monday" in preview and "Come to the court at 10:00." in preview
    [items] = await admin(tg, "/items")
    assert "court" in items


async def test_publish_at_schedules_it(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    app, tg = await started(tmp_path, clock=clock)
    try:
        chats = await subscribe(tg, 2)
        when = "2026-12-02T08:00:00+00:00"
        file = (
            "/post\n---\nkind: news\ntitle: Picket news\ndate: 2026-12-02\n"
            f"publish_at: {when}\n---\nSoon.\n"
        )
        preview, summary = await admin(tg, file)
        assert "Picket news" in preview and "It is published at" in summary
        [saved] = await admin(tg, "/publish")
        assert saved.startswith("Saved as picket-news; it goes out at")
        await app.tick()
        await asyncio.sleep(0.2)
        assert tg.sent == []
        clock.advance(timedelta(days=1))
        await app.tick()
        await tg.wait_for(lambda: len(tg.sent) == 2)
        assert sorted(c for c, _ in tg.sent) == chats
    finally:
        await app.stop()
