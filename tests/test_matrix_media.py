"""An update's photos and documents on Matrix, against a real Synapse: plain
and encrypted rooms get `m.image` / `m.file` events whose bytes are the
stripped copy (the encrypted ones decrypt with the key in the event), each
file is uploaded once per kind of room even when rooms are sent to at the
same time, a restart uploads nothing again, corrections replace the file's
event and withdrawals redact every event. The homeserver's upload limit
turns a larger file into its stand-in line."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import aiohttp
from nio import MemoryDownloadResponse, UploadError, UploadResponse
from nio.crypto.attachments import decrypt_attachment

from bot.adapters.base import Outgoing, Transient
from bot.adapters.matrix_media import MatrixFiles
from bot.media.strip import strip_image, strip_pdf
from bot.media.types import Media, MediaKind
from tests import media_samples
from tests.matrix_client import MatrixTestUser, MemoryKeyValue, Received
from tests.synapse import synapse_default_limits, synapse_server
from tests.test_matrix_adapter import Bot, alice, bot, direct_chat

__all__ = ["alice", "bot", "synapse_default_limits", "synapse_server"]


def _photo(tmp: Path, name: str, size: tuple[int, int], alt: str) -> Media:
    stripped = strip_image(media_samples.jpeg(size=size), "image/jpeg")
    path = tmp / f"{name}.jpg"
    path.write_bytes(stripped.data)
    digest = hashlib.sha256(stripped.data).hexdigest()
    return Media(
        MediaKind.PHOTO,
        f"{name}.jpg",
        "image/jpeg",
        path,
        digest,
        len(stripped.data),
        alt,
        stripped.width,
        stripped.height,
    )


def _leaflet(tmp: Path) -> Media:
    data = strip_pdf(media_samples.pdf()).data
    path = tmp / "leaflet.pdf"
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    return Media(MediaKind.DOCUMENT, "leaflet.pdf", "application/pdf", path, digest, len(data))


def _files(bot: Bot) -> MatrixFiles:
    assert bot.adapter is not None
    files = bot.adapter._sender.media
    assert isinstance(files, MatrixFiles)
    return files


async def _plain_room(user: MatrixTestUser, bot: Bot) -> str:
    room_id = await user.create_room(invite=[bot.user_id], encrypted=False, direct=True)
    await user.wait_for_member(room_id, bot.user_id)
    await bot.wait_for_room(room_id)
    return room_id


async def _bytes_of(user: MatrixTestUser, event: Received) -> bytes:
    """What a reader's client shows: downloaded, decrypted where encrypted."""
    file: dict[str, Any] | None = event.content.get("file")
    url = file["url"] if file else event.content["url"]
    reply = await user.client.download(mxc=url)
    assert isinstance(reply, MemoryDownloadResponse), reply
    if file is None:
        return bytes(reply.body)
    return bytes(
        decrypt_attachment(reply.body, file["key"]["k"], file["hashes"]["sha256"], file["iv"])
    )


async def test_plain_and_encrypted_rooms_get_the_files_uploaded_once_per_kind(
    bot: Bot, alice: MatrixTestUser, tmp_path: Path
) -> None:
    photo = _photo(tmp_path, "gate7", (40, 20), "Workers with the banner at gate 7")
    leaflet = _leaflet(tmp_path)
    plain = [await _plain_room(alice, bot) for _ in range(2)]
    encrypted = [await direct_chat(alice, bot) for _ in range(2)]
    assert bot.adapter is not None
    assert _files(bot).max_size is not None  # m.upload.size read at start
    message = Outgoing("**Picket** at gate 7", media=(photo, leaflet))
    # All four at once: the first send of each file uploads, the others wait.
    sent = await asyncio.gather(*(bot.adapter.send(r, message) for r in plain + encrypted))
    assert all(len(ids) == 3 for ids in sent)
    assert _files(bot).uploads == 4  # two files, two kinds of room

    for room_id, ids in zip(plain + encrypted, sent, strict=True):
        got = await alice.wait_for_messages(bot.user_id, room_id, 3)
        assert [g.event_id for g in got] == ids
        image, document, text = got
        assert image.msgtype == "m.image"
        assert image.body == "Workers with the banner at gate 7"
        assert image.content["info"] == {
            "mimetype": "image/jpeg",
            "size": photo.size,
            "w": 40,
            "h": 20,
        }
        assert document.msgtype == "m.file"
        assert document.body == "leaflet.pdf"
        assert "Picket" in text.body and "[image" not in text.body
        is_encrypted = room_id in encrypted
        assert image.decrypted is is_encrypted
        assert ("file" in image.content) is is_encrypted
        assert ("url" in image.content) is not is_encrypted
        assert await _bytes_of(alice, image) == photo.read()
        assert await _bytes_of(alice, document) == leaflet.read()
    # Every room of a kind points at the same upload.
    assert (
        sent[0]
        and alice.messages_from(bot.user_id, plain[0])[0].content["url"]
        == (alice.messages_from(bot.user_id, plain[1])[0].content["url"])
    )
    first, second = (alice.messages_from(bot.user_id, r)[0].content["file"] for r in encrypted)
    assert first == second

    # A restart (same key/value state) uploads nothing again.
    await bot.stop()
    adapter = await bot.start()
    again = await adapter.send(plain[0], message)
    again += await adapter.send(encrypted[0], message)
    assert len(again) == 6
    assert _files(bot).uploads == 0
    await alice.wait_for_messages(bot.user_id, encrypted[0], 6)


async def test_a_correction_replaces_the_picture_and_a_withdrawal_redacts_every_event(
    bot: Bot, alice: MatrixTestUser, tmp_path: Path
) -> None:
    room_id = await direct_chat(alice, bot)
    assert bot.adapter is not None
    old = _photo(tmp_path, "old", (40, 20), "The old picture")
    new = _photo(tmp_path, "new", (20, 40), "The right picture")
    ids = await bot.adapter.send(room_id, Outgoing("Picket at gate 7", media=(old,)))
    assert len(ids) == 2
    standing = await bot.adapter.edit(room_id, ids, Outgoing("Picket at gate 9", media=(new,)))
    assert standing == ids
    got = await alice.wait_for_messages(bot.user_id, room_id, 4)
    edits = {g.replaces: g for g in got if g.replaces}
    picture = edits[ids[0]].content["m.new_content"]
    assert picture["msgtype"] == "m.image"
    assert picture["body"] == "The right picture"
    assert picture["info"]["w"] == 20 and picture["info"]["h"] == 40
    assert picture["file"]["url"] != got[0].content["file"]["url"]
    assert await _bytes_of(alice, Received(room_id, "", "", "", None, "", True, picture)) == (
        new.read()
    )
    assert "gate 9" in (edits[ids[1]].new_body or "")

    await bot.adapter.take_back(room_id, standing, "withdrawn", Outgoing(""))
    await alice.wait_until(
        lambda: {r[1] for r in alice.redactions if r[0] == room_id} >= set(ids), "redactions"
    )


async def test_a_file_over_the_homeservers_limit_is_named_in_the_text(
    bot: Bot, alice: MatrixTestUser, tmp_path: Path
) -> None:
    room_id = await _plain_room(alice, bot)
    assert bot.adapter is not None
    photo = _photo(tmp_path, "big", (40, 20), "The banner")
    _files(bot).max_size = photo.size - 1
    ids = await bot.adapter.send(room_id, Outgoing("Picket", media=(photo,)))
    assert len(ids) == 1
    (text,) = await alice.wait_for_messages(bot.user_id, room_id, 1)
    assert text.body.startswith("[image: The banner]")
    assert _files(bot).uploads == 0


class _FlakyServer:
    """Stands in for nio's client: the first upload fails on the network."""

    def __init__(self) -> None:
        self.calls = 0

    async def upload(self, data: Any, **_: Any) -> tuple[UploadResponse, None]:
        self.calls += 1
        await asyncio.sleep(0.01)  # the other sends arrive meanwhile
        if self.calls == 1:
            raise aiohttp.ClientError("connection reset")
        return UploadResponse(f"mxc://test/{self.calls}"), None


async def test_a_failed_upload_lets_one_waiting_send_upload_and_the_rest_reuse_it(
    tmp_path: Path,
) -> None:
    server = _FlakyServer()
    state = MemoryKeyValue()
    files = MatrixFiles(server, state)
    photo = _photo(tmp_path, "gate", (40, 20), "The gate")

    async def ref() -> dict[str, Any]:
        return await files.ref(photo, encrypted=False, failure=Exception)

    results = await asyncio.gather(*(ref() for _ in range(3)), return_exceptions=True)
    assert isinstance(results[0], Transient)
    assert results[1:] == [{"url": "mxc://test/2"}] * 2
    assert server.calls == 2 and files.uploads == 1
    assert json.loads(state.values[f"media:plain:{photo.digest}"]) == {"url": "mxc://test/2"}
    # Another process with the same state uploads nothing.
    again = MatrixFiles(server, state)
    assert await again.ref(photo, encrypted=False, failure=Exception) == {"url": "mxc://test/2"}
    assert server.calls == 2


class _StrictServer:
    """A homeserver whose real limit is lower than it said."""

    async def upload(self, data: Any, **_: Any) -> tuple[UploadError, None]:
        return UploadError("File size limit exceeded", "M_TOO_LARGE"), None


async def test_a_file_the_homeserver_refuses_as_too_large_becomes_its_line(
    tmp_path: Path,
) -> None:
    files = MatrixFiles(_StrictServer(), MemoryKeyValue())
    photo = _photo(tmp_path, "gate", (40, 20), "The gate")
    contents, markdown = await files.contents((photo,), "Picket", encrypted=True, failure=Exception)
    assert contents == []
    assert markdown.startswith("\\[image\\: The gate\\]") and markdown.endswith("Picket")
