"""An update's files travel with it: every chat's message carries the
stripped copies (with the alt text in the reader's language), a replaced
picture edits what was sent, the console prints one line per file and the
Matrix adapter writes the same lines into the text until uploads are built."""

from __future__ import annotations

import io
import time
from pathlib import Path

from bot.adapters.base import Outgoing
from bot.adapters.console import ConsoleAdapter
from bot.media.types import Media, MediaKind
from bot.store import open_store
from tests import media_samples as samples
from tests.conftest import write_update
from tests.recording import RecordingAdapter, Timing
from tests.test_corrections import start
from tests.test_delivery import subscribe_many
from tests.test_delivery_timing import finish

TODAY = time.strftime("%Y-%m-%d", time.gmtime())
CHATS = 6
FRONT = f"""
kind: news
title: The picket at gate 7
date: {TODAY}
media:
  - {{file: gate.jpg, alt: Workers at gate 7}}
  - leaflet.pdf
"""


async def test_every_chat_gets_the_stripped_files_and_a_new_picture_is_an_edit(
    tmp_path: Path, database_url: str
) -> None:
    await subscribe_many(database_url, CHATS)
    store = await open_store(database_url)
    await store.set_language("telegram", "0", "ru")
    await store.close()
    updates = tmp_path / "updates"
    updates.mkdir()
    (updates / "gate.jpg").write_bytes(samples.jpeg(orientation=6))
    (updates / "leaflet.pdf").write_bytes(samples.pdf())
    write_update(updates, "gate.md", FRONT, "We stand at gate 7.")
    write_update(updates, "gate.ru.md", "title: Пикет\nmedia:\n  - alt: Рабочие у ворот", "Мы тут.")
    adapter = RecordingAdapter(timing=Timing(latency=0.002, seed=1))
    app = await start(tmp_path, database_url, adapter)
    try:
        await finish(app)
        assert len(adapter.sent) == CHATS
        for chat, message in adapter.sent:
            photo, leaflet = message.media
            assert photo.alt == ("Рабочие у ворот" if chat == "0" else "Workers at gate 7")
            assert (photo.kind, leaflet.kind) == (MediaKind.PHOTO, MediaKind.DOCUMENT)
            assert photo.path.parent == tmp_path / "media-cache"
            for m in message.media:
                for secret in samples.SECRETS:
                    assert secret.encode() not in m.read()
        old = adapter.sent[0][1].media[0].digest

        (updates / "gate.jpg").write_bytes(samples.jpeg(size=(80, 40)))
        await app.reload()
        await finish(app)
        assert sorted(chat for chat, _, _ in adapter.edits) == sorted(map(str, range(CHATS)))
        for _, _, message in adapter.edits:
            assert message.media[0].digest != old
            assert (message.media[0].width, message.media[0].height) == (80, 40)
    finally:
        await app.stop()


def _media(tmp_path: Path) -> tuple[Media, ...]:
    photo = Media(MediaKind.PHOTO, "gate.jpg", "image/jpeg", tmp_path / "a.jpg", "a" * 64, 10)
    return (
        Media(**{**photo.__dict__, "alt": "Workers [at] *gate*"}),
        Media(MediaKind.DOCUMENT, "leaflet.pdf", "application/pdf", tmp_path, "b" * 64, 5),
    )


async def test_the_console_prints_a_line_per_file(tmp_path: Path) -> None:
    out = io.StringIO()
    console = ConsoleAdapter(stdin=io.StringIO(), stdout=out)
    await console.send("console", Outgoing("**Picket**", media=_media(tmp_path)))
    lines = out.getvalue().splitlines()
    assert lines[1:4] == ["[image: Workers [at] *gate*]", "[document: leaflet.pdf]", "Picket"]


async def test_a_replaced_picture_alone_wakes_the_watcher(tmp_path: Path) -> None:
    import asyncio

    from bot.content.watcher import watch_updates

    folder = tmp_path / "updates"
    folder.mkdir()
    calls: list[int] = []
    armed = asyncio.Event()
    changed = asyncio.Event()

    async def on_change() -> None:
        calls.append(1)
        (changed if armed.is_set() else armed).set()

    stop = asyncio.Event()
    task = asyncio.create_task(watch_updates(folder, on_change, stop, settle=0.1))
    try:
        await asyncio.wait_for(armed.wait(), 15)
        (folder / ".hidden.jpg").write_bytes(b"x")  # not looked at
        (folder / "gate.jpg").write_bytes(samples.jpeg())
        await asyncio.wait_for(changed.wait(), 15)
        assert len(calls) == 2
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
