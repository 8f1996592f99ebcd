"""What became of each item: the keys already fanned out (`broadcasts`, the
dispatcher's memory), and the item's rows in the outbox as a whole: who a
reminder reached, how many rows are in each state, and /halt, the
organisers' brake on an item's rows not yet sent.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.privacy.identities import Identities
from bot.store.schema import broadcasts, outbox


class BroadcastsMixin:
    engine: AsyncEngine
    ids: Identities

    async def was_broadcast(self, message_key: str) -> bool:
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                select(broadcasts.c.message_key).where(broadcasts.c.message_key == message_key)
            )
            return found is not None

    async def broadcast_keys(self, prefix: str) -> set[str]:
        """The keys fanned out that start with `prefix` (`MessageKey.prefix`)."""
        async with self.engine.connect() as conn:
            keys = await conn.scalars(
                select(broadcasts.c.message_key).where(
                    broadcasts.c.message_key.startswith(prefix, autoescape=True)
                )
            )
            return set(keys)

    async def reminded_chats(self, item_id: str, key_prefix: str) -> list[tuple[str, str, str]]:
        """(message key, platform, chat) of the item's rows under `key_prefix`
        (`MessageKey.prefix`) that went or are going out."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(
                    outbox.c.message_key, outbox.c.platform, outbox.c.chat_id, outbox.c.chat_box
                ).where(
                    outbox.c.item_id == item_id,
                    outbox.c.message_key.startswith(key_prefix, autoescape=True),
                    outbox.c.state.in_(("sent", "sending")),
                )
            )
            return [(k, p, self.ids.chat(p, c, box)) for k, p, c, box in rows.all()]

    async def halt(self, item_id: str, now: float) -> int:
        """Stop an item's rows that have not gone out: queued rows become
        `halted` (kept, so no fan-out writes them again). Returns how many."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(outbox)
                .where(outbox.c.item_id == item_id, outbox.c.state == "queued")
                .values(state="halted", done_at=now, last_error="halted")
            )
            return max(result.rowcount, 0)

    async def item_row_states(self, item_id: str, kind: str = "broadcast") -> dict[str, int]:
        """How many of an item's rows of `kind` are in each state."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(outbox.c.state, func.count())
                .where(outbox.c.item_id == item_id, outbox.c.kind == kind)
                .group_by(outbox.c.state)
            )
            return {str(state): int(count) for state, count in rows.all()}
