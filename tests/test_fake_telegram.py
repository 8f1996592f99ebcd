"""The fake Bot API server speaks Telegram's wire format: PTB's own `Bot`,
unmodified, sees every answer as the real service's exception with the right
fields."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from telegram import Bot, BotCommand, BotCommandScopeChat, InputFile
from telegram import error as tg
from telegram.constants import ParseMode

from bot.adapters.telegram_errors import retry_after_seconds
from tests.fake_telegram import FakeTelegram, FakeUser, check_html


@pytest.fixture(autouse=True)
def _timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns on reading RetryAfter.retry_after unless told to return a timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(per_second=1000)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url) as client:
        yield client


async def test_get_me_names_the_bot(fake: FakeTelegram, bot: Bot) -> None:
    assert bot.username == fake.bot_username
    assert bot.id == fake.bot_id


async def test_a_wrong_token_is_refused(fake: FakeTelegram) -> None:
    with pytest.raises(tg.InvalidToken):
        async with Bot("4242:WRONG", base_url=fake.base_url):
            pass


async def test_send_message_is_recorded_as_sent(fake: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_message(
        5, "<b>Strike</b> &amp; picket", parse_mode=ParseMode.HTML, protect_content=True
    )
    assert message.chat.id == 5
    assert message.text == "Strike & picket"
    [sent] = fake.sent_to(5)
    assert (sent.text, sent.parse_mode, sent.protect_content) == (
        "<b>Strike</b> &amp; picket",
        "HTML",
        True,
    )
    assert sent.message_id == message.message_id


async def test_over_the_global_rate_answers_429_with_retry_after() -> None:
    fake_limited = FakeTelegram(per_second=2)
    await fake_limited.start()
    try:
        async with Bot(fake_limited.token, base_url=fake_limited.base_url) as limited:
            await limited.send_message(1, "a")
            await limited.send_message(2, "b")
            with pytest.raises(tg.RetryAfter) as caught:
                await limited.send_message(3, "c")
        assert caught.value.retry_after == timedelta(seconds=1)
        assert fake_limited.too_many_requests == 1
        assert [m.chat_id for m in fake_limited.sent] == [1, 2]
    finally:
        await fake_limited.stop()


async def test_the_429_body_is_telegrams() -> None:
    server = FakeTelegram(per_second=1)
    await server.start()
    try:
        url = f"{server.base_url}{server.token}/sendMessage"
        async with aiohttp.ClientSession() as session:
            for chat in (1, 2):
                async with session.post(url, json={"chat_id": chat, "text": "x"}) as response:
                    status, body = response.status, await response.json()
        assert status == 429
        assert body == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        }
    finally:
        await server.stop()


async def test_paid_broadcasts_have_their_own_higher_limit() -> None:
    server = FakeTelegram(per_second=1, paid_per_second=5)
    await server.start()
    try:
        async with Bot(server.token, base_url=server.base_url) as client:
            for chat in range(1, 6):
                await client.send_message(chat, "paid", allow_paid_broadcast=True)
            with pytest.raises(tg.RetryAfter):
                await client.send_message(9, "free")
        assert all(m.allow_paid_broadcast for m in server.sent)
    finally:
        await server.stop()


async def test_a_private_chat_takes_one_message_per_second(bot: Bot) -> None:
    await bot.send_message(7, "first")
    with pytest.raises(tg.RetryAfter):
        await bot.send_message(7, "second")
    await bot.send_message(8, "another chat is fine")


async def test_a_group_takes_its_per_minute_limit(fake: FakeTelegram, bot: Bot) -> None:
    fake.group_per_minute = 2
    for text in ("one", "two"):
        await bot.send_message(-100500, text)
    with pytest.raises(tg.RetryAfter) as caught:
        await bot.send_message(-100500, "three")
    assert 55 <= retry_after_seconds(caught.value) <= 60


@pytest.mark.parametrize(
    ("knob", "exception", "text"),
    [
        ("blocked", tg.Forbidden, "Forbidden: bot was blocked by the user"),
        ("deactivated", tg.Forbidden, "Forbidden: user is deactivated"),
        ("kicked", tg.Forbidden, "Forbidden: bot was kicked from the group chat"),
        ("not_found", tg.BadRequest, "Chat not found"),
        ("too_long", tg.BadRequest, "Message is too long"),
    ],
)
async def test_chat_errors_have_telegrams_texts(
    fake: FakeTelegram, bot: Bot, knob: str, exception: type[tg.TelegramError], text: str
) -> None:
    chat_id = -100777 if knob == "kicked" else 777
    fake.group(-100777, creator=1, supergroup=True)
    getattr(fake, knob).add(chat_id)
    with pytest.raises(exception) as caught:
        await bot.send_message(chat_id, "hello")
    assert type(caught.value) is exception
    assert caught.value.message == text
    assert fake.sent == []


async def test_a_migrated_group_names_its_new_id(fake: FakeTelegram, bot: Bot) -> None:
    fake.migrated[-4000] = -1004000
    with pytest.raises(tg.ChatMigrated) as caught:
        await bot.send_message(-4000, "hello")
    assert caught.value.new_chat_id == -1004000
    await bot.send_message(-1004000, "hello")
    assert [m.chat_id for m in fake.sent] == [-1004000]


async def test_text_longer_than_4096_after_parsing_is_too_long(bot: Bot) -> None:
    await bot.send_message(11, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(tg.BadRequest, match="Message is too long"):
        await bot.send_message(12, "x" * 4097)


@pytest.mark.parametrize("html", ["<foo>x</foo>", "<b>x</i>", "<b>open", "a < b", "fish & chips"])
async def test_malformed_html_cannot_be_parsed(bot: Bot, html: str) -> None:
    with pytest.raises(tg.BadRequest) as caught:
        await bot.send_message(13, html, parse_mode=ParseMode.HTML)
    assert caught.value.message.lower().startswith("can't parse entities: ")


def test_the_html_checker_accepts_telegrams_subset() -> None:
    problem, plain = check_html('<a href="https://x.org/?a=1&amp;b=2">x</a> <pre>&lt;</pre>')
    assert problem is None
    assert plain == "x <"
    # Telegram counts the offset in bytes of UTF-8.
    assert check_html("é <foo>")[0] == 'Unsupported start tag "foo" at byte offset 3'


async def test_a_server_error_is_a_network_error(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next = 1
    with pytest.raises(tg.NetworkError, match="Bad Gateway"):
        await bot.send_message(14, "hello")
    await bot.send_message(14, "hello")
    assert len(fake.sent_to(14)) == 1


async def test_long_polling_returns_as_soon_as_a_message_arrives(
    fake: FakeTelegram, bot: Bot
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    group = fake.group(-300, creator=21)
    fake.inject_message(group, "/start@strikewire_test_bot", FakeUser(21, "Ana"))
    [update] = await poll
    assert time.monotonic() - started < 1
    assert update.message is not None
    assert update.message.text == "/start@strikewire_test_bot"
    assert update.message.chat.type == "group"
    assert update.message.from_user is not None
    assert update.message.from_user.id == 21
    # Confirmed by the next offset, it is not delivered again.
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()


async def test_channel_posts_and_removals_arrive_as_their_update_kinds(
    fake: FakeTelegram, bot: Bot
) -> None:
    channel = fake.channel(-100900, username="metallist_news")
    fake.inject_message(channel, "/start")
    fake.inject_removed(channel)
    post, removal = await bot.get_updates(timeout=1)
    assert post.channel_post is not None
    assert post.channel_post.chat.username == "metallist_news"
    assert removal.my_chat_member is not None
    assert removal.my_chat_member.new_chat_member.status == "kicked"


async def test_channel_usernames_are_chat_ids(fake: FakeTelegram, bot: Bot) -> None:
    fake.channel(-100901, username="metallist_news")
    await bot.send_message("@metallist_news", "news")
    assert [m.chat_id for m in fake.sent] == [-100901]
    with pytest.raises(tg.BadRequest, match="Chat not found"):
        await bot.send_message("@nobody_here", "news")


async def test_chat_members_and_administrators(fake: FakeTelegram, bot: Bot) -> None:
    fake.group(-200, creator=1, admins={2})
    statuses = [(await bot.get_chat_member(-200, user)).status for user in (1, 2, 3)]
    assert statuses == ["creator", "administrator", "member"]
    admins = await bot.get_chat_administrators(-200)
    assert sorted(a.user.id for a in admins) == [1, 2]


async def test_documents_edits_and_deletes(fake: FakeTelegram, bot: Bot) -> None:
    document = InputFile(b"BEGIN:VCALENDAR", filename="pickets.ics")
    sent = await bot.send_document(15, document, caption="<b>Pickets</b>", parse_mode="HTML")
    assert sent.caption == "Pickets"
    [record] = fake.sent_to(15)
    assert record.document == ("pickets.ics", b"BEGIN:VCALENDAR")
    text = await bot.send_message(-16, "draft")
    await bot.edit_message_text("final", chat_id=-16, message_id=text.message_id)
    assert [m.text for m in fake.sent_to(-16)] == ["final"]
    await bot.delete_message(-16, text.message_id)
    assert fake.sent_to(-16) == []
    with pytest.raises(tg.BadRequest, match="Message to delete not found"):
        await bot.delete_message(-16, text.message_id)


async def test_commands_and_webhooks_are_recorded(fake: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Subscribe")])
    await bot.set_my_commands([BotCommand("status", "Status")], scope=BotCommandScopeChat(9))
    assert fake.commands['{"type": "default"}'] == [
        {"command": "start", "description": "Subscribe"}
    ]
    assert fake.commands['{"chat_id": 9, "type": "chat"}'][0]["command"] == "status"
    await bot.set_webhook("http://127.0.0.1:9/hook", secret_token="s3cret")
    with pytest.raises(tg.Conflict):
        await bot.get_updates(timeout=0)
    await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == ()


async def test_latency_is_added_to_every_answer(fake: FakeTelegram, bot: Bot) -> None:
    fake.latency = 0.2
    started = time.monotonic()
    await bot.send_message(17, "slow")
    assert time.monotonic() - started >= 0.2


async def test_a_sent_document_is_fetched_like_from_telegram(fake: FakeTelegram) -> None:
    file = fake.files.add("strike-day.md", b"---\nkind: news\n---\nBody")
    base_file_url = f"http://127.0.0.1:{fake.port}/file/bot"
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=base_file_url) as client:
        found = await client.get_file(file.file_id)
        assert found.file_size == len(file.content)
        assert found.file_path == f"{base_file_url}{fake.token}/documents/file_0.md"
        assert bytes(await found.download_as_bytearray()) == file.content
    assert fake.files.get_file_calls == [file.file_id]
    assert fake.files.downloads == ["documents/file_0.md"]


async def test_get_file_refuses_what_telegram_refuses(fake: FakeTelegram, bot: Bot) -> None:
    huge = fake.files.add("film.mp4", b"", size=25 * 1024 * 1024)
    with pytest.raises(tg.BadRequest, match=r"(?i)file is too big"):
        await bot.get_file(huge.file_id)
    with pytest.raises(tg.BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("no-such-file")
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{fake.port}/file/bot{fake.token}/documents/x.md") as got,
    ):
        assert got.status == 404
    assert fake.files.downloads == []


async def test_the_benchmarks_stats_count_what_the_chats_show() -> None:
    # bench.bench_pipeline reads lost and duplicated messages from these.
    fake = FakeTelegram(per_second=1000, private_per_second=100)
    await fake.start()
    try:
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            for chat in (1, 2, 2, 7):
                await bot.send_message(chat, "news")
            gone = await bot.send_message(3, "withdrawn")
            await bot.delete_message(3, gone.message_id)
        stats = fake.base_url.replace("/bot", "/_fake/stats")
        async with aiohttp.ClientSession() as session:
            async with session.get(stats) as response:
                whole = await response.json()
            async with session.get(stats, params={"upto": "5"}) as response:
                brief = await response.json()
    finally:
        await fake.stop()
    assert whole["counts"] == {"1": 1, "2": 2, "7": 1}
    assert whole["accepted"] == 4
    assert brief["reached"] == 2  # chats 1 and 2 of 1..5; 3's message was deleted
    assert "counts" not in brief and "reply_latency" not in brief
