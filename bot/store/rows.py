"""What the store hands out: a chat's subscription and an outbox row, with
chat and message ids opened (bot/privacy/identities.py). Row kinds live in bot/keys.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.keys import RowKind
from bot.privacy.identities import Identities
from bot.store.schema import outbox

__all__ = ["CLAIMED", "CLAIMED_NAMES", "OutboxRow", "Retry", "RowKind", "Subscription"]


@dataclass(frozen=True)
class Subscription:
    """What one chat receives: every campaign but `excluded` (`everything`,
    new campaigns included), or only `campaigns`."""

    platform: str
    chat_id: str
    active: bool
    everything: bool
    campaigns: frozenset[str]
    language: str | None
    source: str
    excluded: frozenset[str] = frozenset()


@dataclass(frozen=True)
class OutboxRow:
    id: int
    message_key: str
    item_id: str
    variant: str
    platform: str
    chat_id: str
    language: str | None
    attempts: int
    kind: RowKind = RowKind.BROADCAST
    revision: str | None = None
    target_id: int | None = None
    message_ids: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: Any, ids: Identities) -> OutboxRow:
        """A claimed row (the columns of `CLAIMED`, in order), its chat and
        message ids as the platform knows them."""
        # Unpacked by position: a named attribute of a SQLAlchemy Row costs
        # about 0.7 µs, a claim's worth of them a fiftieth of a broadcast's CPU.
        (
            id_,
            key,
            item,
            variant,
            platform,
            chat,
            box,
            language,
            attempts,
            kind,
            revision,
            target,
            stored_ids,
            _due_at,
        ) = row
        message_ids = ids.open_ids(stored_ids)
        return cls(
            id_,
            key,
            item,
            variant,
            platform,
            ids.chat(platform, chat, box),
            language,
            attempts,
            _KINDS[kind],
            revision,
            target,
            tuple(message_ids.split(",")) if message_ids else (),
        )


# A claim turns thousands of rows a second into OutboxRows: a dict lookup, not
# an Enum call, per row.
_KINDS = {kind.value: kind for kind in RowKind}

# What a claim returns of each row, in `OutboxRow.from_row`'s order; the last
# one orders the claim's answer, with the id.
CLAIMED_NAMES = (
    "id",
    "message_key",
    "item_id",
    "variant",
    "platform",
    "chat_id",
    "chat_box",
    "language",
    "attempts",
    "kind",
    "revision",
    "target_id",
    "message_ids",
    "due_at",
)
CLAIMED = tuple(outbox.c[name] for name in CLAIMED_NAMES)


@dataclass(frozen=True)
class Retry:
    id: int
    due_at: float
    error_kind: str
