"""Photos and documents through the Telegram adapter, against the fake Bot API
server: what each chat receives (a captioned photo, an album then the text, a
document), each file uploaded once per bot even when many chats are sent it at
once and after a restart, corrections that edit captions and replace files in
place, and withdrawals that delete every part of an album."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter
from telegram import Bot, InputFile, InputMediaPhoto
from telegram.error import BadRequest

from bot.adapters.base import Outgoing, Transient
from bot.adapters.telegram import TelegramAdapter
from bot.adapters.telegram_request import AiohttpRequest
from bot.config import TelegramConfig, TelegramLimits
from bot.media.types import Media, MediaKind
from tests.fake_telegram import FakeTelegram, SentMessage

FAST = TelegramLimits(
    overall_per_second=200, per_private_chat_per_second=20, per_group_per_minute=1200
)


class MemoryState:
    """The adapter's key-value state, as the store keeps it, in a dict."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value


def _media(path: Path, kind: MediaKind, mime: str, alt: str = "") -> Media:
    content = path.read_bytes()
    return Media(
        kind=kind,
        name=path.name,
        mime=mime,
        path=path,
        digest=hashlib.sha256(content).hexdigest(),
        size=len(content),
        alt=alt,
    )


def photo(folder: Path, name: str, colour: str = "red", size: tuple[int, int] = (64, 48)) -> Media:
    path = folder / name
    Image.new("RGB", size, colour).save(path, "JPEG")
    return _media(path, MediaKind.PHOTO, "image/jpeg", alt=f"{colour} picket line")


def pdf(folder: Path, name: str = "leaflet.pdf", pages: int = 1) -> Media:
    path = folder / name
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    with path.open("wb") as out:
        writer.write(out)
    return _media(path, MediaKind.DOCUMENT, "application/pdf")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(per_second=200, private_per_second=20, group_per_minute=1200)
    await server.start()
    yield server
    await server.stop()


Start = Callable[..., Awaitable[TelegramAdapter]]


@pytest.fixture
async def start(fake: FakeTelegram) -> AsyncIterator[Start]:
    adapters: list[TelegramAdapter] = []

    async def started(state: MemoryState | None = None, limits: object = FAST) -> TelegramAdapter:
        config = TelegramConfig.model_validate(
            {"token": fake.token, "base_url": fake.base_url, "limits": limits}
        )
        adapter = TelegramAdapter(config, poll_timeout=1, state=state)

        async def nothing(*args: object) -> list[Outgoing]:
            return []

        await adapter.start(nothing, nothing)  # type: ignore[arg-type]
        adapters.append(adapter)
        return adapter

    yield started
    for adapter in adapters:
        await adapter.stop()


def shown(fake: FakeTelegram, chat: int) -> list[SentMessage]:
    return fake.sent_to(chat)


async def test_one_photo_carries_a_short_text_as_its_caption(
    tmp_path: Path, fake: FakeTelegram, start: Start
) -> None:
    adapter = await start()
    ids = await adapter.send(
        "7", Outgoing("**Picket** at the gate", media=(photo(tmp_path, "a.jpg"),))
    )
    [message] = shown(fake, 7)
    assert message.method == "sendPhoto" and ids == [str(message.message_id)]
    assert message.text == "<b>Picket</b> at the gate" and message.parse_mode == "HTML"
    assert message.media_kind == "photo"


async def test_one_photo_with_a_long_text_sends_the_text_as_a_reply_to_it(
    tmp_path: Path, fake: FakeTelegram, start: Start
) -> None:
    adapter = await start()
    text = "The court hearing is on Monday. " * 50  # 1,600 characters
    ids = await adapter.send("7", Outgoing(text, media=(photo(tmp_path, "a.jpg"),)))
    first, second = shown(fake, 7)
    assert first.method == "sendPhoto" and first.text == ""
    assert second.method == "sendMessage" and second.reply_to == first.message_id
    assert ids == [str(first.message_id), str(second.message_id)]


async def test_three_photos_go_as_one_album_then_the_text(
    tmp_path: Path, fake: FakeTelegram, start: Start
) -> None:
    adapter = await start()
    files = tuple(photo(tmp_path, f"{c}.jpg", c) for c in ("red", "green", "blue"))
    ids = await adapter.send("7", Outgoing("Three pickets today.", media=files))
    messages = shown(fake, 7)
    assert [m.method for m in messages] == ["sendMediaGroup"] * 3 + ["sendMessage"]
    assert len({m.media_group for m in messages[:3]}) == 1
    assert len(fake.calls_to("sendMediaGroup")) == 1, "one request for the album"
    assert messages[3].text == "Three pickets today." and messages[3].reply_to == int(ids[0])
    assert ids == [str(m.message_id) for m in messages], "media first, then the text"
    received = [u.content for u in fake.media.uploads]
    assert received == [f.path.read_bytes() for f in files]
    # A phone's file name dates the picture: it never leaves the machine.
    assert {u.filename for u in fake.media.uploads} == {"photo.jpeg"}


async def test_a_pdf_is_a_document_with_the_caption_and_photos_come_before_it(
    tmp_path: Path, fake: FakeTelegram, start: Start
) -> None:
    adapter = await start()
    leaflet = pdf(tmp_path)
    await adapter.send("7", Outgoing("Print and hand out.", media=(leaflet,)))
    [document] = shown(fake, 7)
    assert document.method == "sendDocument" and document.text == "Print and hand out."
    assert document.document == ("leaflet.pdf", leaflet.path.read_bytes())

    mixed = (leaflet, photo(tmp_path, "a.jpg"), photo(tmp_path, "b.jpg", "blue"))
    ids = await adapter.send("8", Outgoing("Everything for Monday.", media=mixed))
    methods = [m.method for m in shown(fake, 8)]
    assert methods == ["sendMediaGroup", "sendMediaGroup", "sendDocument", "sendMessage"]
    assert len(ids) == 4
    assert fake.media.upload_count("document") == 1, "the leaflet went up once"


async def test_many_chats_at_once_upload_each_file_once_and_a_restart_none(
    tmp_path: Path, fake: FakeTelegram, start: Start
) -> None:
    state = MemoryState()
    adapter = await start(state)
    files = (photo(tmp_path, "a.jpg"), photo(tmp_path, "b.jpg", "blue"), pdf(tmp_path))
    message = Outgoing("Strike news", media=files)
    await asyncio.gather(*(adapter.send(str(chat), message) for chat in range(1, 41)))
    assert len(fake.media.uploads) == 3
    for chat in range(1, 41):
        assert len(shown(fake, chat)) == 4  # album of two, the document, the text
    await adapter.stop()

    again = await start(state)
    await again.send("41", message)
    assert len(fake.media.uploads) == 3, "the file ids came from the store"
    assert [m.file_id for m in shown(fake, 41)[:3]] == [m.file_id for m in shown(fake, 1)[:3]]


async def test_a_correction_edits_the_caption_and_replaces_a_changed_file(
    tmp_path: Path, fake: FakeTelegram, start: Start
) -> None:
    adapter = await start()
    first = photo(tmp_path, "a.jpg")
    ids = await adapter.send("7", Outgoing("Picket at gate 1", media=(first,)))
    standing = await adapter.edit("7", ids, Outgoing("Picket at gate 2", media=(first,)))
    [message] = shown(fake, 7)
    assert standing == ids and message.text == "Picket at gate 2"
    assert len(fake.media.uploads) == 1, "an unchanged file is not uploaded again"

    other = photo(tmp_path, "b.jpg", "blue")
    await adapter.edit("7", ids, Outgoing("Picket at gate 2", media=(other,)))
    [message] = shown(fake, 7)
    assert message.message_id == int(ids[0]), "replaced in place"
    assert fake.media.by_id[message.file_id or ""].content == other.path.read_bytes()
    assert message.text == "Picket at gate 2"


async def test_a_correction_of_an_album_reaches_the_text_and_the_changed_photo(
    tmp_path: Path, fake: FakeTelegram, start: Start
) -> None:
    adapter = await start()
    files = (photo(tmp_path, "a.jpg"), photo(tmp_path, "b.jpg", "blue"))
    ids = await adapter.send("7", Outgoing("Two pickets", media=files))
    changed = (files[0], photo(tmp_path, "c.jpg", "green"))
    standing = await adapter.edit("7", ids, Outgoing("Two pickets, one moved", media=changed))
    assert standing == ids
    album, text = shown(fake, 7)[:2], shown(fake, 7)[2]
    assert text.text == "Two pickets, one moved"
    assert album[0].file_id == fake.media.uploads[0].file_id, "unchanged photo untouched"
    assert fake.media.by_id[album[1].file_id or ""].content == changed[1].path.read_bytes()
    # The caption grows past 1,024 characters: it moves into a reply.
    lone = photo(tmp_path, "d.jpg", "white")
    ids = await adapter.send("8", Outgoing("Short", media=(lone,)))
    standing = await adapter.edit("8", ids, Outgoing("Long text. " * 120, media=(lone,)))
    media, reply = shown(fake, 8)
    assert media.text == "" and reply.reply_to == media.message_id
    assert standing == [str(media.message_id), str(reply.message_id)]


async def test_a_withdrawal_deletes_every_part_of_an_album(
    tmp_path: Path, fake: FakeTelegram, start: Start
) -> None:
    adapter = await start()
    files = (photo(tmp_path, "a.jpg"), photo(tmp_path, "b.jpg", "blue"), pdf(tmp_path))
    ids = await adapter.send("7", Outgoing("Strike news", media=files))
    fake.undeletable.add((7, int(ids[2])))  # the document is older than 48 hours
    await adapter.take_back("7", ids, "mistake", Outgoing("Withdrawn by the organisers"))
    [left] = shown(fake, 7)
    assert left.method == "sendDocument" and left.text == "Withdrawn by the organisers"
    assert len(fake.deleted) == 3


async def test_albums_count_every_photo_against_the_limits(
    tmp_path: Path, fake: FakeTelegram, start: Start
) -> None:
    fake.per_second = 30
    fake._global.limit = 30  # the strict window the real limit is checked with
    adapter = await start(limits=TelegramLimits(overall_per_second=30))
    files = tuple(photo(tmp_path, f"{n}.jpg", c) for n, c in enumerate(("red", "blue", "green")))
    message = Outgoing("Three pickets", media=files)
    await asyncio.gather(*(adapter.send(str(chat), message) for chat in range(1, 16)))
    assert len(fake.sent) == 60
    assert fake.too_many_requests == 0, "an album of three took three slots"


def upload(content: bytes) -> InputFile:
    return InputFile(content, filename="photo.jpg", attach=True)


async def test_the_fake_refuses_what_telegram_refuses(tmp_path: Path, fake: FakeTelegram) -> None:
    bot = Bot(fake.token, base_url=fake.base_url, request=AiohttpRequest())
    await bot.initialize()
    try:
        small = photo(tmp_path, "a.jpg")
        with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
            await bot.send_photo(7, upload(small.read()), caption="x" * 1025)
        eleven = [InputMediaPhoto(upload(small.read())) for _ in range(11)]
        with pytest.raises(BadRequest, match=r"(?i)too much messages to send as an album"):
            await bot.send_media_group(7, eleven)
        big = tmp_path / "big.png"
        Image.frombytes("RGB", (2000, 2000), os.urandom(2000 * 2000 * 3)).save(big)
        assert big.stat().st_size > 10 * 1024 * 1024
        with pytest.raises(BadRequest, match=r"(?i)photo_save_file_invalid"):
            await bot.send_photo(7, upload(big.read_bytes()))
        with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
            await bot.send_photo(7, "AgACnever-handed-out")
        assert fake.media.uploads == [] and fake.sent == []
        sent = await bot.send_photo(7, upload(small.read()))
        again = await bot.send_photo(8, sent.photo[-1].file_id)
        assert again.photo[-1].file_id == sent.photo[-1].file_id
        assert len(fake.media.uploads) == 1
    finally:
        await bot.shutdown()


async def test_a_stored_file_id_telegram_no_longer_knows_is_uploaded_again(
    tmp_path: Path, fake: FakeTelegram, start: Start
) -> None:
    state = MemoryState()
    picture = photo(tmp_path, "a.jpg")
    key = f"file:{fake.token.partition(':')[0]}:{picture.digest}"
    state.values[key] = "AgACforgotten"
    adapter = await start(state)
    ids = await adapter.send("7", Outgoing("Picket", media=(picture,)))
    [upload] = fake.media.uploads
    assert [m.file_id for m in shown(fake, 7)] == [upload.file_id] and len(ids) == 1
    assert state.values[key] == upload.file_id


async def test_a_failed_upload_lets_a_waiting_send_upload_instead(
    tmp_path: Path, fake: FakeTelegram, start: Start
) -> None:
    adapter = await start()
    message = Outgoing("Picket", media=(photo(tmp_path, "a.jpg"),))
    fake.fail_next = 1  # the first upload meets a 502
    sends = (adapter.send(str(chat), message) for chat in range(1, 6))
    # Bounded: a claim never released would leave the other sends waiting forever.
    results = await asyncio.wait_for(asyncio.gather(*sends, return_exceptions=True), 30)
    failed = [r for r in results if isinstance(r, Transient)]
    assert len(failed) == 1, "the send that met the 502 goes back to the worker"
    assert len(fake.media.uploads) == 1, "one of the waiting sends uploaded it"
    assert sum(1 for chat in range(1, 6) if shown(fake, chat)) == 4


async def test_two_leaflets_go_as_two_documents(
    tmp_path: Path, fake: FakeTelegram, start: Start
) -> None:
    adapter = await start()
    files = (pdf(tmp_path, "leaflet.pdf"), pdf(tmp_path, "letter.pdf", pages=2))
    ids = await adapter.send("7", Outgoing("Print both.", media=files))
    messages = shown(fake, 7)
    assert [m.method for m in messages] == ["sendDocument", "sendDocument", "sendMessage"]
    assert [m.document[0] for m in messages[:2] if m.document] == ["leaflet.pdf", "letter.pdf"]
    assert ids == [str(m.message_id) for m in messages]
