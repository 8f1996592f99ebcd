"""Commands answered by the core, as any platform's user sees them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.base import ChatKind, Incoming
from bot.app import App
from bot.clock import FakeClock
from tests.conftest import make_config, write_update
from tests.recording import RecordingAdapter, plain

ROOT = Path(__file__).parent.parent
TODAY = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[tuple[App, RecordingAdapter]]:
    import shutil

    shutil.copytree(ROOT / "updates", tmp_path / "updates")
    adapter = RecordingAdapter()
    # The shipped updates have real dates: pin the clock so appeals stay active.
    app = App(make_config(tmp_path), adapters=[adapter], watch=False, clock=FakeClock(TODAY))
    await app.start()
    try:
        yield app, adapter
    finally:
        await app.stop()


async def test_start_subscribes_and_shows_appeals(bot: tuple[App, RecordingAdapter]) -> None:
    app, tg = bot
    [answer] = await tg.say("1", "/start")
    assert "Welcome" in answer
    assert "/address metallist-solidarity" in answer
    sub = await app.store.subscription("telegram", "1")
    assert sub is not None and sub.active and sub.everything


async def test_address_gives_the_postal_address_ready_to_copy(
    bot: tuple[App, RecordingAdapter],
) -> None:
    _, tg = bot
    [answer] = await tg.say("1", "/address metallist-solidarity")
    assert (
        "417000 Republic of Kazakhstan\nUralsk, ul. Udrinskaya d.1/1 kv. 9\nPozhidaevy VT" in answer
    )
    [all_of_them] = await tg.say("1", "/address")
    assert "ul. Yerubaeva dom 30" in all_of_them and "Udrinskaya" in all_of_them
    [unknown] = await tg.say("1", "/address nonsense")
    assert unknown.startswith("No active appeal called nonsense")


async def test_appeals_and_pickets(bot: tuple[App, RecordingAdapter]) -> None:
    _, tg = bot
    [appeals] = await tg.say("1", "/appeals")
    assert appeals.count("/address") == 3
    [pickets] = await tg.say("1", "/pickets")
    assert (
        "Uralsk" in pickets
        and "Berlin" in pickets
        and "Uralsk: Metallist factory gates, Sat, March 6, 2027, 12:00 (UTC+05:00)" in pickets
    )


async def test_bad_input_gets_short_helpful_answers(bot: tuple[App, RecordingAdapter]) -> None:
    _, tg = bot
    assert (await tg.say("1", "/frobnicate"))[0].startswith("I don't know /frobnicate")
    assert (await tg.say("1", "/subscribe x" + "y" * 10_000))[0].startswith("That is more than")
    assert (await tg.say("1", "/subscribe " + " ".join("a" * 11)))[0].startswith(
        "That is more than"
    )
    assert (await tg.say("1", "/subscribe nosuch"))[0] == (
        "Unknown campaign: nosuch. Campaigns: kazakhstan, metallist, miners."
    )
    assert (await tg.say("1", "hello"))[0].startswith("I answer commands only")
    assert await tg.say("-5", "hello", kind=ChatKind.GROUP) == []
    languages = (await tg.say("1", "/language"))[0]
    assert languages.startswith("Languages")
    for name in ("English", "Русский", "Українська", "Қазақша", "Deutsch", "Svenska"):
        assert name in languages
    assert (await tg.say("1", "/language xx"))[0] == (
        "I don't speak xx. Languages: en, ru, uk, kk, de, sv."
    )
    assert (await tg.say("1", "/help"))[0].startswith("Commands")


async def test_a_group_language_is_for_its_admins(bot: tuple[App, RecordingAdapter]) -> None:
    app, tg = bot
    await tg.say("-100", "/start", kind=ChatKind.GROUP)
    [refused] = await tg.say("-100", "/language ru", kind=ChatKind.GROUP, may_manage=False)
    assert refused == "Only a group admin can change this chat's language."
    sub = await app.store.subscription("telegram", "-100")
    assert sub is not None and sub.language is None
    # Anyone may see the list; an admin may switch.
    [listed] = await tg.say("-100", "/language", kind=ChatKind.GROUP, may_manage=False)
    assert listed.startswith("Languages")
    [switched] = await tg.say("-100", "/language ru", kind=ChatKind.GROUP)
    assert "Русский" in switched
    sub = await app.store.subscription("telegram", "-100")
    assert sub is not None and sub.language == "ru"
    # The same door on Matrix, in the room's own words.
    assert tg.on_command is not None
    [answer] = await tg.on_command(
        Incoming("matrix", "!r:x", ChatKind.GROUP, "/language de", False, False)
    )
    assert plain(answer.markdown) == (
        "Only a moderator (power level 50 or more) can change this chat's language."
    )


async def test_group_subscription_needs_a_manager(bot: tuple[App, RecordingAdapter]) -> None:
    app, tg = bot
    [refused] = await tg.say("-100", "/start", kind=ChatKind.GROUP, may_manage=False)
    assert refused.startswith("Only a group admin")
    assert await app.store.subscription("telegram", "-100") is None
    # Anyone may ask.
    [answer] = await tg.say("-100", "/appeals", kind=ChatKind.GROUP, may_manage=False)
    assert "Active appeals" in answer


async def test_unsubscribe_one_campaign_keeps_the_others(bot: tuple[App, RecordingAdapter]) -> None:
    app, tg = bot
    await tg.say("1", "/start")
    [answer] = await tg.say("1", "/unsubscribe miners")
    assert answer == "Unsubscribed from: miners. This chat follows every campaign except: miners."
    sub = await app.store.subscription("telegram", "1")
    assert sub is not None and sub.everything and sub.excluded == {"miners"}
    [answer] = await tg.say("1", "/campaigns")
    assert "This chat follows every campaign except: miners." in answer


async def test_subscriptions_read_as_the_issue_tells_them(
    bot: tuple[App, RecordingAdapter],
) -> None:
    """Issue #25: in a chat following everything, /subscribe narrows and
    /unsubscribe leaves out, and each answer says what the chat follows."""
    app, tg = bot
    await tg.say("1", "/start")
    [answer] = await tg.say("1", "/subscribe metallist")
    assert answer == "Subscribed to: metallist. This chat follows only: metallist."
    assert await app.store.audience(["kazakhstan"], ["telegram"]) == {}
    [answer] = await tg.say("1", "/subscribe miners")
    assert answer == "Subscribed to: miners. This chat follows only: metallist, miners."
    [answer] = await tg.say("1", "/unsubscribe metallist")
    assert answer == "Unsubscribed from: metallist. Still following: miners."
    assert await app.store.audience(["metallist"], ["telegram"]) == {}
    [answer] = await tg.say("1", "/unsubscribe miners")
    assert answer == (
        "Unsubscribed from: miners. This chat receives nothing now; /start to subscribe again."
    )
    [welcome] = await tg.say("1", "/subscribe")
    assert "This chat now receives every update of the campaign." in welcome
    [answer] = await tg.say("1", "/unsubscribe metallist")
    assert answer == (
        "Unsubscribed from: metallist. This chat follows every campaign except: metallist."
    )
    assert await app.store.audience(["metallist"], ["telegram"]) == {}
    assert await app.store.audience(["miners", "metallist"], ["telegram"]) == {None: 1}
    [answer] = await tg.say("1", "/subscribe metallist")
    assert answer == "Subscribed to: metallist. This chat follows every campaign."


async def test_forget_deletes_the_chat(bot: tuple[App, RecordingAdapter]) -> None:
    app, tg = bot
    await tg.say("1", "/subscribe metallist")
    assert (await tg.say("1", "/forget"))[0].startswith("Done: everything stored")
    assert await app.store.subscription("telegram", "1") is None


async def test_status_is_for_admins(bot: tuple[App, RecordingAdapter]) -> None:
    _, tg = bot
    await tg.say("1", "/start")
    assert (await tg.say("1", "/status"))[0] == "/status is for the bot's admins."
    [status] = await tg.say("1", "/status", admin=True)
    assert "Subscribers: 1 (telegram 1)" in status
    assert "Updates: 6 valid, 0 problems" in status


async def test_language_switches_to_a_translation(tmp_path: Path) -> None:
    write_update(
        tmp_path / "updates",
        "strike.md",
        """
        kind: news
        title: Strike
        date: 2026-11-20
    """,
        "English text.",
    )
    write_update(tmp_path / "updates", "strike.ru.md", "title: Забастовка", "Русский текст.")
    tg = RecordingAdapter()
    app = App(make_config(tmp_path), adapters=[tg], watch=False, clock=FakeClock(TODAY))
    await app.start()
    try:
        await tg.say("1", "/start")
        [german] = await tg.say("1", "/language de")
        assert "Deutsch" in german
        [latest] = await tg.say("1", "/latest")
        assert "Strike" in latest and "English text." in latest  # no German: the original
        assert "Русский" in (await tg.say("1", "/language ru"))[0]
        [latest] = await tg.say("1", "/latest")
        assert "Забастовка" in latest and "Русский текст." in latest
    finally:
        await app.stop()
