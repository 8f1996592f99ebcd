"""A person on Matrix for the tests: a real matrix-nio client with its own
device and encryption keys, registered on the test Synapse.

It creates rooms, invites the bot, types commands, sends files (`m.file`,
encrypted as attachments in encrypted rooms) and reads what arrives,
decrypting where the room is encrypted, exactly as a supporter's client would.
Every wait has a deadline. Also here: `MemoryKeyValue`, the smallest stand-in
for the engine's key/value store.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    MegolmEvent,
    RedactionEvent,
    RoomCreateResponse,
    RoomEncryptedMedia,
    RoomMessageMedia,
    RoomMessageNotice,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
    UploadResponse,
)
from nio.exceptions import EncryptionError

from tests.synapse import RegisteredUser, SynapseServer

SYNC_TIMEOUT_MS = 1000


class MemoryKeyValue:
    """The engine's KeyValue protocol, in memory: survives an adapter restart
    inside one test, as the database would."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value


@dataclass(frozen=True)
class Received:
    """One message the test user's client saw in a room."""

    room_id: str
    sender: str
    event_id: str
    body: str
    formatted_body: str | None
    msgtype: str
    decrypted: bool
    content: dict[str, Any] = field(default_factory=dict)  # as decrypted

    @property
    def replaces(self) -> str | None:
        """The event this one edits (an `m.replace`), if it is an edit."""
        relation = self.content.get("m.relates_to") or {}
        return relation.get("event_id") if relation.get("rel_type") == "m.replace" else None

    @property
    def new_body(self) -> str | None:
        return (self.content.get("m.new_content") or {}).get("body")

    @property
    def in_reply_to(self) -> str | None:
        relation = self.content.get("m.relates_to") or {}
        return (relation.get("m.in_reply_to") or {}).get("event_id")


class MatrixTestUser:
    """A registered account with a syncing nio client."""

    def __init__(self, server: SynapseServer, account: RegisteredUser, store: Path) -> None:
        self.server = server
        self.account = account
        self.user_id = account.user_id
        store.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            server.base_url,
            account.user_id,
            store_path=str(store),
            config=AsyncClientConfig(max_limit_exceeded=3, max_timeouts=3, encryption_enabled=True),
        )
        self.client.restore_login(account.user_id, account.device_id, account.access_token)
        self.received: list[Received] = []
        self.undecryptable: list[MegolmEvent] = []
        # (room, event redacted, reason) for every redaction seen.
        self.redactions: list[tuple[str, str, str | None]] = []
        self._task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()

    @classmethod
    async def create(
        cls, server: SynapseServer, tmp: Path, *, background: bool = True
    ) -> MatrixTestUser:
        """Register and sign in; with `background`, keep syncing until close()."""
        account = server.register()
        user = cls(server, account, tmp / account.user_id.strip("@").replace(":", "_"))
        await user.sync_once()
        if background:
            user._task = asyncio.create_task(user._sync_loop())
        return user

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.close()

    async def sync_once(self, timeout_ms: int = 0) -> None:
        response = await self.client.sync(timeout=timeout_ms, full_state=None)
        if not isinstance(response, SyncResponse):
            raise AssertionError(f"{self.user_id} cannot sync: {response}")
        self._collect(response)
        client = self.client
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()
        self._retry_undecryptable()
        self._synced.set()

    async def _sync_loop(self) -> None:
        while True:
            await self.sync_once(SYNC_TIMEOUT_MS)

    def _collect(self, response: SyncResponse) -> None:
        for room_id, info in response.rooms.join.items():
            for event in info.timeline.events:
                self._record(room_id, event)

    def _record(self, room_id: str, event: Any) -> None:
        if isinstance(event, MegolmEvent):
            event.room_id = room_id
            self.undecryptable.append(event)
        elif isinstance(event, RedactionEvent):
            self.redactions.append((room_id, event.redacts, event.reason))
        elif isinstance(
            event, (RoomMessageText, RoomMessageNotice, RoomMessageMedia, RoomEncryptedMedia)
        ):
            source = event.source.get("content", {})
            self.received.append(
                Received(
                    room_id,
                    event.sender,
                    event.event_id,
                    event.body,
                    source.get("formatted_body"),
                    str(source.get("msgtype")),
                    bool(event.decrypted),
                    dict(source),
                )
            )

    def _retry_undecryptable(self) -> None:
        for event in list(self.undecryptable):
            try:
                decrypted = self.client.decrypt_event(event)
            except EncryptionError:
                continue
            self.undecryptable.remove(event)
            self._record(event.room_id, decrypted)

    async def wait_synced(self) -> None:
        """Until one more sync has completed in the background loop."""
        self._synced.clear()
        async with asyncio.timeout(15):
            await self._synced.wait()

    # Rooms

    async def create_room(
        self, *, invite: list[str], encrypted: bool, direct: bool = False, name: str = ""
    ) -> str:
        initial_state: list[dict[str, Any]] = []
        if encrypted:
            initial_state.append(
                {
                    "type": "m.room.encryption",
                    "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                }
            )
        reply = await self.client.room_create(
            name=name or None,
            invite=invite,
            is_direct=direct,
            initial_state=initial_state,
        )
        assert isinstance(reply, RoomCreateResponse), reply
        await self.wait_until(lambda: reply.room_id in self.client.rooms, "room in sync")
        return str(reply.room_id)

    async def join(self, room_id: str) -> None:
        reply = await self.client.join(room_id)
        assert isinstance(reply, JoinResponse), reply
        await self.wait_until(lambda: room_id in self.client.rooms, "joined room in sync")

    async def invite(self, room_id: str, user_id: str) -> None:
        reply = await self.client.room_invite(room_id, user_id)
        assert not hasattr(reply, "status_code"), reply

    async def leave(self, room_id: str) -> None:
        reply = await self.client.room_leave(room_id)
        assert not hasattr(reply, "status_code"), reply

    async def kick(self, room_id: str, user_id: str) -> None:
        reply = await self.client.room_kick(room_id, user_id, reason="test")
        assert not hasattr(reply, "status_code"), reply

    async def set_power_level(self, room_id: str, user_id: str, level: int) -> None:
        state = await self.client.room_get_state_event(room_id, "m.room.power_levels")
        content: dict[str, Any] = dict(getattr(state, "content", {}))
        content["users"] = {**content.get("users", {}), user_id: level}
        reply = await self.client.room_put_state(room_id, "m.room.power_levels", content)
        assert not hasattr(reply, "status_code"), reply

    def is_member(self, room_id: str, user_id: str) -> bool:
        room = self.client.rooms.get(room_id)
        return room is not None and user_id in room.users and not room.users[user_id].invited

    async def wait_for_member(self, room_id: str, user_id: str, within: float = 20) -> None:
        await self.wait_until(
            lambda: self.is_member(room_id, user_id), f"{user_id} in {room_id}", within
        )

    async def wait_until(self, check: Any, what: str, within: float = 20) -> None:
        deadline = time.monotonic() + within
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.user_id}: timed out waiting for {what}")
            if self._task is None:
                await self.sync_once(200)
            else:
                await asyncio.sleep(0.05)

    # Messages

    async def say(self, room_id: str, text: str) -> str:
        """Type `text` into the room, encrypted if the room is."""
        return await self._send(room_id, {"msgtype": "m.text", "body": text})

    async def send_file(
        self,
        room_id: str,
        filename: str,
        data: bytes,
        *,
        caption: str | None = None,
        mimetype: str = "text/markdown",
        size: int | None = None,
    ) -> str:
        """Upload `data` and post it as an `m.file`, the way Element does: in an
        encrypted room the upload is ciphertext and the event carries its key.
        A caption goes in `body` with the name in `filename` (MSC2530); `size`
        is what `info.size` claims (None: leave it out)."""
        encrypted = self.client.rooms[room_id].encrypted
        upload, keys = await self.client.upload(
            io.BytesIO(data),
            content_type=mimetype,
            filename=filename,
            encrypt=encrypted,
            filesize=len(data),
        )
        assert isinstance(upload, UploadResponse), upload
        content: dict[str, Any] = {"msgtype": "m.file", "body": caption or filename}
        if caption is not None:
            content["filename"] = filename
        info: dict[str, Any] = {"mimetype": mimetype}
        if size is not None:
            info["size"] = size
        content["info"] = info
        if encrypted:
            assert keys is not None
            content["file"] = {**keys, "url": upload.content_uri}
        else:
            content["url"] = upload.content_uri
        return await self._send(room_id, content)

    async def _send(self, room_id: str, content: dict[str, Any]) -> str:
        client = self.client
        room = client.rooms[room_id]
        if room.encrypted:
            if not room.members_synced:
                await client.joined_members(room_id)
            if client.should_query_keys:
                await client.keys_query()
        reply = await client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        assert isinstance(reply, RoomSendResponse), reply
        return str(reply.event_id)

    def messages_from(self, sender: str, room_id: str | None = None) -> list[Received]:
        return [
            m
            for m in self.received
            if m.sender == sender and (room_id is None or m.room_id == room_id)
        ]

    async def wait_for_messages(
        self, sender: str, room_id: str | None, count: int, within: float = 20
    ) -> list[Received]:
        await self.wait_until(
            lambda: len(self.messages_from(sender, room_id)) >= count,
            f"{count} message(s) from {sender}",
            within,
        )
        return self.messages_from(sender, room_id)
