"""Fan-out into the outbox (`outbox`): one row per matching chat, once per
message key, and the audience an item would reach.

Fan-out is one INSERT … SELECT over the subscribers, so enqueuing an item for
a million chats is one statement and no row passes through Python. The
`broadcasts` row for the key is claimed in the same transaction: a second
enqueue of the key, from this process or another, writes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, exists, func, literal, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.keys import RowKind
from bot.privacy.identities import Identities
from bot.store.schema import broadcasts, outbox, subscribers, subscriptions

# The columns an INSERT … SELECT writes a new outbox row with, in this order:
# fan-out over subscribers, and follow-ups (bot/store/outbox_followups.py, which add two).
ROW_COLUMNS = [
    "message_key",
    "item_id",
    "variant",
    "kind",
    "platform",
    "chat_id",
    "chat_box",
    "language",
    "state",
    "attempts",
    "due_at",
    "created_at",
]


async def key_has_rows(conn: AsyncConnection, item_id: str, message_key: str) -> bool:
    """Whether any row of a key (of the item `item_id`) is kept: queued, in
    flight or a record."""
    found = await conn.scalar(
        select(outbox.c.id)
        .where(outbox.c.item_id == item_id, outbox.c.message_key == message_key)
        .limit(1)
    )
    return found is not None


def audience_filter(campaigns: Sequence[str], platforms: Sequence[str]) -> list[Any]:
    """The conditions on `subscribers` for the chats an item of `campaigns`
    reaches: an item without campaigns reaches every active chat; one with
    campaigns, each chat that follows at least one of them (a chat following
    every campaign but some, unless it left out all of the item's)."""
    s = subscribers
    wanted = [s.c.active, s.c.platform.in_(list(platforms))]
    if campaigns:
        names = sorted(set(campaigns))
        # For the chats following every campaign: those whose exceptions
        # name all of the item's campaigns. One small scan of
        # `subscriptions`, which the databases hash, so a fan-out to a
        # million chats costs no look-up per chat.
        left_out = (
            select(subscriptions.c.subscriber_id)
            .where(subscriptions.c.campaign.in_(names))
            .group_by(subscriptions.c.subscriber_id)
            .having(func.count() >= len(names))
        )
        wanted.append(
            or_(
                and_(s.c.everything, s.c.id.not_in(left_out)),
                and_(
                    not_(s.c.everything),
                    exists().where(
                        subscriptions.c.subscriber_id == s.c.id,
                        subscriptions.c.campaign.in_(names),
                    ),
                ),
            )
        )
    return wanted


class OutboxFanoutMixin:
    engine: AsyncEngine
    ids: Identities
    fixed_audience: list[tuple[str, str, str | None]] | None
    _insert: Any

    def fix_audience(self, destinations: Sequence[tuple[str, str, str | None]]) -> None:
        """Channel-only mode: every fan-out goes to these (platform, chat,
        language) destinations, and no subscriber is read."""
        self.fixed_audience = list(destinations)

    async def enqueue(
        self,
        message_key: str,
        item_id: str,
        variant: str,
        campaigns: Sequence[str],
        platforms: Sequence[str],
        now: float,
        chats: Sequence[tuple[str, str]] | None = None,
        *,
        kind: RowKind = RowKind.BROADCAST,
    ) -> int | None:
        """Write one row of `kind` per matching active chat, once per message_key.

        Returns how many rows were written, or None if `message_key` was
        already fanned out (by this process before, or by another one now).
        With `chats`, only those chats are considered and no broadcast is recorded.
        """
        async with self.engine.begin() as conn:
            if chats is None:
                claimed = await conn.execute(
                    self._insert(broadcasts)
                    .values(
                        message_key=message_key,
                        item_id=item_id,
                        enqueued_at=now,
                        recipients=0,
                    )
                    .on_conflict_do_nothing()
                )
                if claimed.rowcount == 0:
                    return None
            if self.fixed_audience is not None:
                count = await self._enqueue_fixed(
                    conn, (message_key, item_id, variant, kind), platforms, now, chats
                )
            else:
                count = await self._enqueue_subscribers(
                    conn, (message_key, item_id, variant, kind), campaigns, platforms, now, chats
                )
            if chats is None:
                await conn.execute(
                    update(broadcasts)
                    .where(broadcasts.c.message_key == message_key)
                    .values(recipients=count)
                )
            return count

    async def _enqueue_subscribers(
        self,
        conn: AsyncConnection,
        what: tuple[str, str, str, str],
        campaigns: Sequence[str],
        platforms: Sequence[str],
        now: float,
        chats: Sequence[tuple[str, str]] | None,
    ) -> int:
        message_key = what[0]
        s = subscribers
        wanted = audience_filter(campaigns, platforms)
        if chats is not None:
            wanted.append(
                or_(
                    *[
                        and_(s.c.platform == p, s.c.chat_id == self.ids.index(p, c))
                        for p, c in chats
                    ]
                )
            )
        source = select(
            *[literal(v) for v in what],
            s.c.platform,
            s.c.chat_id,
            s.c.chat_box,
            s.c.language,
            literal("queued"),
            literal(0),
            literal(now),
            literal(now),
        ).where(*wanted)
        insert = self._insert(outbox).from_select(ROW_COLUMNS, source)
        # Rows of the key already there are skipped. A broadcast just claimed
        # usually has none, and the claimed `broadcasts` row keeps every other
        # writer of its key waiting: then a plain INSERT does, since ON
        # CONFLICT's speculative insertion costs PostgreSQL a third of a
        # million-row fan-out.
        if chats is not None or await key_has_rows(conn, what[1], message_key):
            insert = insert.on_conflict_do_nothing()
        result = await conn.execute(insert)
        return max(result.rowcount, 0)

    async def _enqueue_fixed(
        self,
        conn: AsyncConnection,
        what: tuple[str, str, str, str],
        platforms: Sequence[str],
        now: float,
        chats: Sequence[tuple[str, str]] | None,
    ) -> int:
        """Channel-only mode: one row per configured destination, no subscribers read."""
        message_key, item_id, variant, kind = what
        rows = [
            {
                "message_key": message_key,
                "item_id": item_id,
                "variant": variant,
                "kind": kind,
                "platform": platform,
                **self.ids.columns(platform, chat),
                "language": language,
                "state": "queued",
                "attempts": 0,
                "due_at": now,
                "created_at": now,
            }
            for platform, chat, language in self._fixed(platforms, chats)
        ]
        if not rows:
            return 0
        result = await conn.execute(self._insert(outbox).values(rows).on_conflict_do_nothing())
        return max(result.rowcount, 0)

    def _fixed(
        self, platforms: Sequence[str], chats: Sequence[tuple[str, str]] | None = None
    ) -> list[tuple[str, str, str | None]]:
        """The configured destinations (channel-only mode) on `platforms`, of `chats`."""
        assert self.fixed_audience is not None
        only = None if chats is None else set(chats)
        return [
            (platform, chat, language)
            for platform, chat, language in self.fixed_audience
            if platform in platforms and (only is None or (platform, chat) in only)
        ]

    async def audience(
        self, campaigns: Sequence[str], platforms: Sequence[str]
    ) -> dict[str | None, int]:
        """Active chats that would receive an item of `campaigns`, by language."""
        if self.fixed_audience is not None:
            return dict(Counter(language for _, _, language in self._fixed(platforms)))
        s = subscribers
        wanted = audience_filter(campaigns, platforms)
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(s.c.language, func.count()).where(*wanted).group_by(s.c.language)
            )
            return {language: int(count) for language, count in rows.all()}
