"""Drafts: what an admin sent with /post, /edit or /withdraw, until it takes effect.

A draft is the whole update file it would write, so a restart loses nothing
and /publish writes exactly what the preview showed. Who wrote it is a keyed
hash (`owner`), kept only to tell one admin's /publish or /approve from
another's; the row is deleted when the draft is published, cancelled or
expires, and nothing then links an update to an admin.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Delete, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.schema import drafts


class DraftAction(enum.StrEnum):
    POST = "post"  # a new update file
    EDIT = "edit"  # a new text for an existing file (a correction)
    WITHDRAW = "withdraw"  # mark an existing file withdrawn


@dataclass(frozen=True)
class Draft:
    id: str
    action: DraftAction
    item_id: str | None
    title: str
    text: str
    owner: str
    approvers: tuple[str, ...]
    created_at: float
    expires_at: float
    # The digest of the file an edit or withdrawal was drafted against.
    based_on: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Draft:
        return cls(
            id=row.id,
            action=DraftAction(row.action),
            item_id=row.item_id,
            title=row.title,
            text=row.text,
            owner=row.owner,
            approvers=tuple(a for a in row.approvers.split(",") if a),
            created_at=row.created_at,
            expires_at=row.expires_at,
            based_on=row.based_on,
        )


def _expired(now: float) -> Delete:
    return delete(drafts).where(drafts.c.expires_at <= now)


class DraftsMixin:
    engine: AsyncEngine

    async def add_draft(self, draft: Draft) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(drafts).values(
                    id=draft.id,
                    action=draft.action.value,
                    item_id=draft.item_id,
                    title=draft.title[:200],
                    text=draft.text,
                    owner=draft.owner,
                    approvers=",".join(draft.approvers),
                    created_at=draft.created_at,
                    expires_at=draft.expires_at,
                    based_on=draft.based_on,
                )
            )

    async def open_drafts(self, now: float) -> list[Draft]:
        """Drafts not yet expired, oldest first (expired ones are deleted)."""
        async with self.engine.begin() as conn:
            await conn.execute(_expired(now))
            rows = await conn.execute(select(drafts).order_by(drafts.c.created_at, drafts.c.id))
            return [Draft.from_row(r) for r in rows.all()]

    async def drop_expired_drafts(self, now: float, kept: float = 0.0) -> int:
        """Delete the drafts expired by `now`; retention (bot/store/retention.py).
        A draft's age (`kept`, publishing.drafts_expire) was counted when it
        was written, into its `expires_at`, so it is not needed here."""
        async with self.engine.begin() as conn:
            result = await conn.execute(_expired(now))
            return max(result.rowcount, 0)

    async def draft(self, draft_id: str, now: float) -> Draft | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(drafts).where(drafts.c.id == draft_id, drafts.c.expires_at > now)
                )
            ).first()
            return None if row is None else Draft.from_row(row)

    async def approve_draft(self, draft_id: str, approver: str, before: Sequence[str]) -> bool:
        """Add `approver`, if the approvals are still `before` (another admin's
        approval at the same moment makes this one try again)."""
        after = ",".join((*before, approver))
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(drafts)
                .where(drafts.c.id == draft_id, drafts.c.approvers == ",".join(before))
                .values(approvers=after)
            )
            return result.rowcount == 1

    async def take_draft(self, draft_id: str) -> bool:
        """Delete the draft; True for the one caller that deleted it, so two
        admins approving at once apply it once."""
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(drafts).where(drafts.c.id == draft_id))
            return result.rowcount == 1
