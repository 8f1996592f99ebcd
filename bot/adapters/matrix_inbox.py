"""Reading a Matrix sync response: which invites to accept or decline, which
rooms the bot lost, and which messages are commands for the core.

matrix-nio has already applied the response to its room state (members, power
levels, decrypted events) when `Inbox.read` looks at it. The inbox adds what
nio lacks: who created a room (room version 12 creators outrank everyone but
have no power-levels entry), which timeline events are history the bot must
not answer, and a second chance for messages whose room key came late.

A file (`m.file`) counts as a command: its caption when that is one, else
`/post` in a direct room; elsewhere an uncaptioned file is chatter. The
adapter fetches the file (matrix_files.py) before the core sees it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from nio import (
    AsyncClient,
    InviteMemberEvent,
    MatrixRoom,
    MegolmEvent,
    RoomCreateEvent,
    RoomEncryptedFile,
    RoomMemberEvent,
    RoomMessageFile,
    RoomMessageText,
    SyncResponse,
)
from nio.exceptions import EncryptionError

from bot.adapters.base import ChatKind, Incoming
from bot.adapters.matrix_files import MatrixFile, file_of
from bot.adapters.matrix_rules import (
    RoomCreation,
    chat_kind,
    may_manage,
    normalise_command,
    server_of,
)
from bot.config import MatrixConfig
from bot.logs import PLAIN, Pseudonyms
from bot.platforms import Platform

log = logging.getLogger(__name__)
# How long an undecryptable message waits for its room key before it is dropped.
UNDECRYPTABLE_PATIENCE_S = 300.0
MAX_UNDECRYPTABLE = 200


class SyncFailed(Exception):
    """The homeserver answered a sync with an error (retried after `retry_after`)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class FileCommand:
    """A command that came with a file: the core gets `incoming` with the
    file's `Document` once the adapter has fetched it (`fetch` False: only
    its name and size, never its bytes)."""

    incoming: Incoming
    file: MatrixFile
    fetch: bool


@dataclass
class SyncOutcome:
    """What one sync asks the adapter to do."""

    join: list[str] = field(default_factory=list)
    decline: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    # Rooms the bot is now alone in (the person left the direct chat).
    abandoned: list[str] = field(default_factory=list)
    commands: dict[str, list[Incoming | FileCommand]] = field(default_factory=dict)


@dataclass
class _Waiting:
    room_id: str
    event: MegolmEvent
    deadline: float


class Inbox:
    """Turns sync responses into an `SyncOutcome`, remembering per-room facts."""

    def __init__(self, client: AsyncClient, config: MatrixConfig, hide: Pseudonyms = PLAIN) -> None:
        self._client = client
        self._hide = hide
        self._config = config
        self._user_id = config.user_id
        self._creations: dict[str, RoomCreation] = {}
        self._joined: set[str] = set()
        self._left_by_us: set[str] = set()
        self._waiting: dict[str, _Waiting] = {}
        self._synced_once = False

    def read(self, response: SyncResponse, *, history: bool) -> SyncOutcome:
        """Classify one sync. With `history`, timeline messages are old (the
        first sync without a stored token) and none is answered."""
        out = SyncOutcome()
        # After a restart every room in the first sync is one the bot was in.
        first = not self._synced_once
        self._synced_once = True
        for room_id, info in response.rooms.invite.items():
            self._read_invite(room_id, info.invite_state, out)
        for room_id in response.rooms.leave:
            self._joined.discard(room_id)
            self._creations.pop(room_id, None)
            self._client.rooms.pop(room_id, None)
            if room_id in self._left_by_us:
                self._left_by_us.discard(room_id)
            else:
                out.gone.append(room_id)
        for room_id, join_info in response.rooms.join.items():
            for event in [*join_info.state, *join_info.timeline.events]:
                if isinstance(event, RoomCreateEvent):
                    content = event.source.get("content", {})
                    self._creations[room_id] = RoomCreation.from_event(event.sender, content)
            newly_joined = room_id not in self._joined and not first
            self._joined.add(room_id)
            if history:
                continue
            events = list(join_info.timeline.events)
            if newly_joined:
                events = self._after_own_join(events, join_info.state)
            self._read_timeline(room_id, events, out)
        self._retry_undecryptable(out)
        return out

    def forget(self, room_id: str) -> None:
        self._joined.discard(room_id)
        self._creations.pop(room_id, None)

    def left_by_us(self, room_id: str) -> None:
        """The bot leaves (or declines) this room itself: no chat-gone news."""
        self._left_by_us.add(room_id)

    def _read_invite(self, room_id: str, state: Iterable[object], out: SyncOutcome) -> None:
        for event in state:
            if (
                isinstance(event, InviteMemberEvent)
                and event.state_key == self._user_id
                and event.membership == "invite"
            ):
                allowed = self._config.allowed_servers
                if allowed is not None and server_of(event.sender) not in allowed:
                    log.info("matrix: declining an invite from a server not in allowed_servers")
                    out.decline.append(room_id)
                else:
                    out.join.append(room_id)
                return

    def _after_own_join(self, events: list[object], state: Iterable[object]) -> list[object]:
        """In a room the bot just joined, only what came after its join is new.

        The sync filter keeps the bot's own events out of the timeline, so its
        join comes as room state: what is newer than it is new."""
        for index, event in enumerate(events):
            if self._is_own_join(event):
                return events[index + 1 :]
        joined = next((e for e in state if self._is_own_join(e)), None)
        if not isinstance(joined, RoomMemberEvent):
            return []
        return [e for e in events if getattr(e, "server_timestamp", 0) > joined.server_timestamp]

    def _is_own_join(self, event: object) -> bool:
        return (
            isinstance(event, RoomMemberEvent)
            and event.state_key == self._user_id
            and event.membership == "join"
        )

    def _read_timeline(self, room_id: str, events: Iterable[object], out: SyncOutcome) -> None:
        room = self._client.rooms.get(room_id)
        if room is None:
            return
        for event in events:
            if isinstance(event, MegolmEvent):
                self._undecryptable(room_id, event)
            elif isinstance(event, RoomMessageText):
                self._command(room, event, out)
            elif isinstance(event, (RoomMessageFile, RoomEncryptedFile)):
                self._file_command(room, event, out)
            elif (
                isinstance(event, RoomMemberEvent)
                and event.state_key != self._user_id
                and event.membership in ("leave", "ban")
                and room.joined_count <= 1
                and room.invited_count == 0
                and room_id not in out.abandoned
            ):
                out.abandoned.append(room_id)

    def _command(self, room: MatrixRoom, event: RoomMessageText, out: SyncOutcome) -> None:
        if event.sender == self._user_id:
            return
        text = normalise_command(event.body)
        if text is None:
            return
        # The body is the Markdown the sender typed (Element sends it so).
        incoming = self._incoming(room, event.sender, text, text)
        out.commands.setdefault(room.room_id, []).append(incoming)

    def _file_command(
        self, room: MatrixRoom, event: RoomMessageFile | RoomEncryptedFile, out: SyncOutcome
    ) -> None:
        if event.sender == self._user_id:
            return
        file = file_of(event)
        if file is None:
            return
        private = chat_kind(room.member_count) is ChatKind.PRIVATE
        text = normalise_command(file.caption) if file.caption is not None else None
        markdown = text
        if text is None:
            if not private:
                return  # a file shared in a group, not for the bot
            text = "/post"  # the file is the update; a caption is a note to us
        incoming = self._incoming(room, event.sender, text, markdown)
        fetch = private and incoming.is_bot_admin
        out.commands.setdefault(room.room_id, []).append(FileCommand(incoming, file, fetch))

    def _incoming(self, room: MatrixRoom, sender: str, text: str, markdown: str | None) -> Incoming:
        creation = self._creations.get(room.room_id)
        manage = may_manage(
            sender=sender,
            member_count=room.member_count,
            power_level=room.power_levels.get_user_level(sender),
            creation=creation,
            admins=self._config.admins,
        )
        return Incoming(
            platform=Platform.MATRIX,
            chat_id=room.room_id,
            chat_kind=chat_kind(room.member_count),
            text=text,
            may_manage=manage,
            is_bot_admin=sender in self._config.admins,
            markdown=markdown,
            sender=sender,
        )

    def _undecryptable(self, room_id: str, event: MegolmEvent) -> None:
        if event.sender == self._user_id:
            return
        if self._client.olm is None:
            log.warning(
                "matrix: encrypted message in %s ignored: matrix.encryption is off",
                self._hide(room_id),
            )
            return
        log.warning(
            "matrix: cannot decrypt event %s in %s (session %s of device %s); "
            "waiting for its room key",
            event.event_id,
            self._hide(room_id),
            event.session_id,
            self._hide(event.device_id or ""),
        )
        if len(self._waiting) >= MAX_UNDECRYPTABLE:
            oldest = next(iter(self._waiting))
            log.warning("matrix: dropped undecryptable event %s: too many waiting", oldest)
            del self._waiting[oldest]
        event.room_id = room_id
        deadline = time.monotonic() + UNDECRYPTABLE_PATIENCE_S
        self._waiting[event.event_id] = _Waiting(room_id, event, deadline)

    def _retry_undecryptable(self, out: SyncOutcome) -> None:
        now = time.monotonic()
        for event_id, waiting in list(self._waiting.items()):
            try:
                decrypted = self._client.decrypt_event(waiting.event)
            except EncryptionError:
                if now > waiting.deadline:
                    del self._waiting[event_id]
                    log.warning(
                        "matrix: gave up on event %s in %s: its room key never arrived",
                        event_id,
                        self._hide(waiting.room_id),
                    )
                continue
            del self._waiting[event_id]
            room = self._client.rooms.get(waiting.room_id)
            if room is None:
                continue
            if isinstance(decrypted, RoomMessageText):
                log.info("matrix: decrypted event %s after its room key arrived", event_id)
                self._command(room, decrypted, out)
            elif isinstance(decrypted, (RoomMessageFile, RoomEncryptedFile)):
                log.info("matrix: decrypted event %s after its room key arrived", event_id)
                self._file_command(room, decrypted, out)
