"""Pure decisions of the Matrix adapter: what counts as a command, who may
manage a room, what kind of chat a room is, and what a homeserver error means
for the delivery worker. No I/O here, so each rule is testable on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.adapters.base import ChatGone, ChatKind, Rejected, RetryAfter, SendError, Transient

# Power level a member needs to change what a group room receives (moderator).
MANAGE_LEVEL = 50
# Room versions before 12 give the creator an ordinary power-levels entry;
# from 12 on ("hydra") the creators are privileged outside the users list.
_UNPRIVILEGED_CREATOR_VERSIONS = frozenset(str(n) for n in range(1, 12))
# When the homeserver asks us to slow down without saying how long.
DEFAULT_RETRY_AFTER_S = 5.0


def normalise_command(body: str) -> str | None:
    """`/cmd args` or `!cmd args` -> `/cmd args`; anything else -> None."""
    text = body.strip()
    if len(text) < 2 or text[0] not in "/!" or not text[1].isalpha():
        return None
    return "/" + text[1:]


def server_of(user_id: str) -> str:
    """The homeserver part of a Matrix user id (`@a:example.org` -> `example.org`)."""
    return user_id.partition(":")[2]


@dataclass
class RoomCreation:
    """What the bot knows about a room's `m.room.create` event."""

    room_version: str = "1"
    creators: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_event(cls, sender: str, content: dict[str, object]) -> RoomCreation:
        version = str(content.get("room_version", "1"))
        extra = content.get("additional_creators")
        more = [u for u in extra if isinstance(u, str)] if isinstance(extra, list) else []
        return cls(version, frozenset([sender, *more]))

    @property
    def creators_privileged(self) -> bool:
        return self.room_version not in _UNPRIVILEGED_CREATOR_VERSIONS


def may_manage(
    *,
    sender: str,
    member_count: int,
    power_level: int,
    creation: RoomCreation | None,
    admins: Iterable[str],
) -> bool:
    """Whether `sender` may change what this room receives.

    In a direct chat the one other member manages their own subscription; in a
    group room it takes a moderator, a privileged creator (room version 12+,
    where matrix-nio's `get_user_level` wrongly reports 0 for them) or one of the
    operator's configured admins.
    """
    if sender in admins or chat_kind(member_count) is ChatKind.PRIVATE:
        return True
    if creation is not None and creation.creators_privileged and sender in creation.creators:
        return True
    return power_level >= MANAGE_LEVEL


def chat_kind(member_count: int) -> ChatKind:
    """A room of the bot and one person is a direct chat; anything bigger a group."""
    return ChatKind.PRIVATE if member_count <= 2 else ChatKind.GROUP


# errcodes for which no later attempt can succeed: the bot is out of the room.
_GONE = frozenset({"M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN_ROOM"})
# errcodes that are about this one message.
_REJECTED = frozenset({"M_TOO_LARGE", "M_BAD_JSON", "M_NOT_JSON", "M_INVALID_PARAM"})


def classify_error(
    errcode: str | None, http_status: int | None, message: str, retry_after_ms: int | None
) -> SendError:
    """Turn a homeserver error reply into what the delivery worker should do."""
    reason = f"{errcode or http_status}: {message}".strip()
    if errcode == "M_LIMIT_EXCEEDED" or http_status == 429:
        seconds = retry_after_ms / 1000 if retry_after_ms else DEFAULT_RETRY_AFTER_S
        return RetryAfter(seconds, reason)
    if errcode in _GONE:
        return ChatGone(reason)
    if errcode in _REJECTED or http_status == 413:
        return Rejected(reason)
    if http_status is not None and 400 <= http_status < 500 and errcode != "M_UNKNOWN_TOKEN":
        return Rejected(reason)
    # 5xx, a lost connection, or a token the operator must renew: try again later.
    return Transient(reason)
