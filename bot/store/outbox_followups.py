"""Follow-ups in the outbox (`outbox`) of a sent update: edit rows, notice
rows and delete rows, and what corrections read of the rows already sent.

They are written from the outbox itself, one INSERT … SELECT over the rows
already sent for an item, so they reach exactly the chats that have the old
version. Keys make them idempotent: an edit or a notice is keyed by item and
revision (`edit:<item>:<revision>`), a deletion by the row it takes back
(`delete:<item>:<row id>`; bot/keys.py builds every key), and with the chat
in the unique key no chat gets one twice, whichever process writes them
and however often.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.keys import MessageKey, RowKind
from bot.privacy.identities import Identities
from bot.store.outbox_fanout import ROW_COLUMNS, key_has_rows
from bot.store.schema import outbox

# Kinds whose sent messages a withdrawal takes back.
TAKEN_BACK = (RowKind.BROADCAST, RowKind.REMINDER, RowKind.MOVED, RowKind.NOTICE)
FOLLOWUPS = (RowKind.EDIT, RowKind.NOTICE, RowKind.DELETE)


def _broadcast_key(item_id: str) -> str:
    return str(MessageKey.broadcast(item_id))


class OutboxFollowupsMixin:
    engine: AsyncEngine
    ids: Identities
    _insert: Any

    async def sent_revisions(self, item_id: str) -> list[tuple[str | None, str | None, int]]:
        """(language, revision, chats) of an item's broadcast rows already sent."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(outbox.c.language, outbox.c.revision, func.count())
                .where(
                    outbox.c.item_id == item_id,
                    outbox.c.message_key == _broadcast_key(item_id),
                    outbox.c.state == "sent",
                )
                .group_by(outbox.c.language, outbox.c.revision)
            )
            return [(lang, rev, int(n)) for lang, rev, n in rows.all()]

    async def sent_chats(self, item_id: str) -> int:
        """How many chats an item's broadcast was sent to (all languages)."""
        return sum(chats for _, _, chats in await self.sent_revisions(item_id))

    async def has_row(self, item_id: str, message_key: str, platform: str, chat_id: str) -> bool:
        """Whether one chat has a row of a key (of the item `item_id`)."""
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                select(outbox.c.id).where(
                    outbox.c.item_id == item_id,
                    outbox.c.message_key == message_key,
                    outbox.c.platform == platform,
                    outbox.c.chat_id == self.ids.index(platform, chat_id),
                )
            )
            return found is not None

    async def has_rows(self, item_id: str, message_key: str) -> bool:
        """Whether any row of a key (of the item `item_id`) is still kept:
        queued, in flight or a record."""
        async with self.engine.connect() as conn:
            return await key_has_rows(conn, item_id, message_key)

    async def enqueue_followups(
        self,
        *,
        kind: RowKind,
        item_id: str,
        language: str | None,
        revision: str,
        platforms: Sequence[str],
        now: float,
    ) -> int:
        """One `kind` row (edit or notice) for `revision` per chat whose copy of
        the item in `language` is another revision; returns rows written.

        One statement for all older revisions, so a chat whose edit is being
        recorded meanwhile is caught either way. Rows sent before revisions
        were recorded (revision NULL) are left alone."""
        where = [
            outbox.c.item_id == item_id,
            outbox.c.message_key == _broadcast_key(item_id),
            outbox.c.state == "sent",
            outbox.c.platform.in_(list(platforms)),
            outbox.c.language.is_(None) if language is None else outbox.c.language == language,
            outbox.c.revision.is_not(None),
            outbox.c.revision != revision,
        ]
        key = literal(str(MessageKey.followup(kind, item_id, revision)))
        return await self._insert_from(key, kind, literal(revision), where, now)

    async def enqueue_deletes(self, item_id: str, platforms: Sequence[str], now: float) -> int:
        """One delete row per message of the item still standing in a chat."""
        # `MessageKey.delete(item_id, <the row's id>)`, written in SQL.
        key = literal(MessageKey.prefix(RowKind.DELETE, item_id)) + cast(outbox.c.id, String)
        where = [
            outbox.c.item_id == item_id,
            outbox.c.state == "sent",
            outbox.c.kind.in_([str(k) for k in TAKEN_BACK]),
            outbox.c.message_ids.is_not(None),
            outbox.c.message_ids != "",
            outbox.c.platform.in_(list(platforms)),
        ]
        return await self._insert_from(key, RowKind.DELETE, literal(None, String), where, now)

    async def _insert_from(
        self, key: Any, kind: RowKind, revision: Any, where: list[Any], now: float
    ) -> int:
        """One `kind` row per sent row matching `where`, aimed at that row."""
        source = select(
            key,
            outbox.c.item_id,
            literal(""),
            literal(str(kind)),
            outbox.c.platform,
            outbox.c.chat_id,
            outbox.c.chat_box,
            outbox.c.language,
            literal("queued"),
            literal(0),
            literal(now),
            literal(now),
            revision,
            outbox.c.id,
        ).where(*where)
        insert = (
            self._insert(outbox)
            .from_select([*ROW_COLUMNS, "revision", "target_id"], source)
            .on_conflict_do_nothing()
        )
        async with self.engine.begin() as conn:
            result = await conn.execute(insert)
            return max(result.rowcount, 0)

    async def target_of(self, row_id: int) -> tuple[tuple[str, ...], str | None] | None:
        """The message ids and revision a chat has now for the row `row_id`."""
        async with self.engine.connect() as conn:
            found = (
                await conn.execute(
                    select(outbox.c.message_ids, outbox.c.revision).where(outbox.c.id == row_id)
                )
            ).first()
        if found is None:
            return None
        stored, revision = found
        ids = self.ids.open_ids(stored)
        return (tuple(ids.split(",")) if ids else ()), revision

    async def followup_counts(self, item_id: str) -> dict[str, int]:
        """Rows of each follow-up kind written for an item (for preview and tests)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(outbox.c.kind, func.count())
                .where(outbox.c.item_id == item_id, outbox.c.kind.in_([str(k) for k in FOLLOWUPS]))
                .group_by(outbox.c.kind)
            )
            return {k: int(n) for k, n in rows.all()}
