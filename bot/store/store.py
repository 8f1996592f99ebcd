"""The store: subscribers here; fan-out (`fanout.py`) and the outbox as a work
queue with adapter state (`queue.py`) mixed in. The same SQL serves SQLite and
PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.privacy.identities import Identities
from bot.store.database import release_postgres_lock
from bot.store.drafts import DraftsMixin
from bot.store.fanout import FanoutMixin
from bot.store.followups import FollowupsMixin
from bot.store.forgetting import forget_statements
from bot.store.queue import QueueMixin
from bot.store.rows import Subscription
from bot.store.schema import outbox, subscribers, subscriptions


class Store(FanoutMixin, FollowupsMixin, QueueMixin, DraftsMixin):
    """The database behind the bot. Chat ids go in and come out as the
    platforms know them; `ids` decides what is written (bot/privacy)."""

    def __init__(
        self,
        engine: AsyncEngine,
        ids: Identities | None = None,
        *,
        keep_inactive: float = 0.0,
    ) -> None:
        self.engine = engine
        self.ids = ids or Identities()
        # Seconds a stopped or gone chat is kept (its language, its campaigns)
        # before it is deleted; 0 deletes it at once.
        self.keep_inactive = keep_inactive
        # Channel-only mode (privacy.subscriptions: false): the chats every
        # broadcast goes to, from the config; no subscriber is stored.
        self.fixed_audience: list[tuple[str, str, str | None]] | None = None
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        # PostgreSQL: the connection holding the running lock (bot/store/database.py).
        self.lock_connection: AsyncConnection | None = None

    async def close(self) -> None:
        await release_postgres_lock(self.lock_connection)
        self.lock_connection = None
        await self.engine.dispose()

    # Subscribers.

    def _chat(self, platform: str, chat_id: str) -> tuple[Any, Any]:
        """The WHERE condition for one chat's subscriber row."""
        index = self.ids.index(platform, chat_id)
        return subscribers.c.platform == platform, subscribers.c.chat_id == index

    def _outbox_chat(self, platform: str, chat_id: str) -> tuple[Any, Any]:
        index = self.ids.index(platform, chat_id)
        return outbox.c.platform == platform, outbox.c.chat_id == index

    async def _subscriber_id(
        self, conn: AsyncConnection, platform: str, chat_id: str
    ) -> int | None:
        found = await conn.scalar(select(subscribers.c.id).where(*self._chat(platform, chat_id)))
        return int(found) if found is not None else None

    async def _retire(self, conn: AsyncConnection, where: Sequence[Any], now: float | None) -> None:
        """A chat stops receiving: deleted at once, or kept keep_inactive longer."""
        if self.keep_inactive <= 0:
            ids = select(subscribers.c.id).where(*where).scalar_subquery()
            await conn.execute(delete(subscriptions).where(subscriptions.c.subscriber_id.in_(ids)))
            await conn.execute(delete(subscribers).where(*where))
            return
        await conn.execute(
            update(subscribers)
            .where(*where, subscribers.c.active)
            .values(active=False, everything=False, inactive_since=now or time.time())
        )

    async def subscription(self, platform: str, chat_id: str) -> Subscription | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(subscribers).where(*self._chat(platform, chat_id)))
            ).first()
            if row is None:
                return None
            names = await conn.scalars(
                select(subscriptions.c.campaign).where(subscriptions.c.subscriber_id == row.id)
            )
            return Subscription(
                platform,
                chat_id,
                row.active,
                row.everything,
                frozenset(names),
                row.language,
                row.source,
            )

    async def subscribe(
        self,
        platform: str,
        chat_id: str,
        campaigns: Iterable[str] | None,
        now: float,
        *,
        source: str = "chat",
        language: str | None = None,
    ) -> bool:
        """Subscribe a chat to `campaigns` (None: everything). True if it was not active before."""
        async with self.engine.begin() as conn:
            sub_id = await self._subscriber_id(conn, platform, chat_id)
            was_active = False
            if sub_id is None:
                result = await conn.execute(
                    subscribers.insert().values(
                        platform=platform,
                        **self.ids.columns(platform, chat_id),
                        language=language,
                        everything=campaigns is None,
                        active=True,
                        source=source,
                        created_at=now,
                    )
                )
                key = result.inserted_primary_key
                assert key is not None
                sub_id = int(key[0])
            else:
                was_active = bool(
                    await conn.scalar(
                        select(subscribers.c.active).where(subscribers.c.id == sub_id)
                    )
                )
                values: dict[str, Any] = {"active": True, "inactive_since": None}
                if campaigns is None:
                    values["everything"] = True
                elif not was_active:
                    values["everything"] = False
                if not was_active:
                    await conn.execute(
                        delete(subscriptions).where(subscriptions.c.subscriber_id == sub_id)
                    )
                await conn.execute(
                    update(subscribers).where(subscribers.c.id == sub_id).values(**values)
                )
            if campaigns is not None:
                await conn.execute(
                    self._insert(subscriptions)
                    .values([{"subscriber_id": sub_id, "campaign": c} for c in set(campaigns)])
                    .on_conflict_do_nothing()
                )
            elif campaigns is None:
                await conn.execute(
                    delete(subscriptions).where(subscriptions.c.subscriber_id == sub_id)
                )
            return not was_active

    async def unsubscribe(
        self, platform: str, chat_id: str, campaigns: Iterable[str], now: float | None = None
    ) -> None:
        """Stop `campaigns` for a chat subscribed to some campaigns."""
        async with self.engine.begin() as conn:
            sub_id = await self._subscriber_id(conn, platform, chat_id)
            if sub_id is None:
                return
            await conn.execute(
                delete(subscriptions).where(
                    subscriptions.c.subscriber_id == sub_id,
                    subscriptions.c.campaign.in_(list(campaigns)),
                )
            )
            left = await conn.scalar(
                select(func.count())
                .select_from(subscriptions)
                .where(subscriptions.c.subscriber_id == sub_id)
            )
            if not left:
                await self._retire(conn, [subscribers.c.id == sub_id], now)

    async def set_campaigns_from_everything(
        self, platform: str, chat_id: str, campaigns: Iterable[str]
    ) -> None:
        """Turn 'everything' into an explicit list (for /unsubscribe of one campaign)."""
        async with self.engine.begin() as conn:
            sub_id = await self._subscriber_id(conn, platform, chat_id)
            if sub_id is None:
                return
            await conn.execute(
                update(subscribers).where(subscribers.c.id == sub_id).values(everything=False)
            )
            rows = [{"subscriber_id": sub_id, "campaign": c} for c in set(campaigns)]
            if rows:
                await conn.execute(
                    self._insert(subscriptions).values(rows).on_conflict_do_nothing()
                )

    async def stop(
        self,
        platform: str,
        chat_id: str,
        *,
        error_kind: str = "stopped",
        now: float | None = None,
    ) -> None:
        """Deactivate a chat and drop what was still queued for it."""
        async with self.engine.begin() as conn:
            await self._retire(conn, self._chat(platform, chat_id), now)
            await conn.execute(
                update(outbox)
                .where(
                    *self._outbox_chat(platform, chat_id),
                    outbox.c.state.in_(("queued", "sending")),
                )
                .values(state="failed", last_error=error_kind)
            )

    async def forget(self, platform: str, chat_id: str) -> None:
        """Delete everything stored about a chat: every table the schema marks
        as holding chats, and what points at their rows (bot/store/forgetting.py)."""
        async with self.engine.begin() as conn:
            for statement in forget_statements(self.ids, platform, chat_id):
                await conn.execute(statement)

    async def set_language(self, platform: str, chat_id: str, language: str | None) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(subscribers).where(*self._chat(platform, chat_id)).values(language=language)
            )

    async def move_chat(self, platform: str, old: str, new: str) -> None:
        """A chat lives on under a new id: move its subscription and queued rows."""
        moved = self.ids.columns(platform, new)
        async with self.engine.begin() as conn:
            if await self._subscriber_id(conn, platform, new) is None:
                await conn.execute(
                    update(subscribers).where(*self._chat(platform, old)).values(**moved)
                )
            else:
                await conn.execute(delete(subscribers).where(*self._chat(platform, old)))
            taken = (
                select(outbox.c.message_key)
                .where(*self._outbox_chat(platform, new))
                .scalar_subquery()
            )
            await conn.execute(
                update(outbox)
                .where(
                    *self._outbox_chat(platform, old),
                    outbox.c.state.in_(("queued", "sending")),
                    outbox.c.message_key.not_in(taken),
                )
                .values(**moved, state="queued", leased_until=None)
            )

    async def sync_destinations(
        self, wanted: Sequence[tuple[str, str, str | None]], now: float
    ) -> None:
        """Make configured destinations active subscribers of everything; retire removed ones."""
        async with self.engine.begin() as conn:
            keep = {(p, self.ids.index(p, c)) for p, c, _ in wanted}
            rows = (
                await conn.execute(
                    select(subscribers.c.id, subscribers.c.platform, subscribers.c.chat_id).where(
                        subscribers.c.source == "config"
                    )
                )
            ).all()
            for row in rows:
                if (row.platform, row.chat_id) not in keep:
                    await conn.execute(delete(subscribers).where(subscribers.c.id == row.id))
            for platform, chat_id, language in wanted:
                stmt = self._insert(subscribers).values(
                    platform=platform,
                    **self.ids.columns(platform, chat_id),
                    language=language,
                    everything=True,
                    active=True,
                    source="config",
                    created_at=now,
                )
                await conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["platform", "chat_id"],
                        set_={
                            "active": True,
                            "everything": True,
                            "source": "config",
                            "language": language,
                            "inactive_since": None,
                        },
                    )
                )

    async def drop_subscribers(self) -> int:
        """Delete every subscriber (channel-only mode keeps none)."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(subscriptions))
            result = await conn.execute(delete(subscribers))
            return max(result.rowcount, 0)

    async def purge_inactive(self, now: float | None = None) -> int:
        """Delete the chats stopped or gone more than keep_inactive ago."""
        before = (now or time.time()) - self.keep_inactive
        where = [subscribers.c.active.is_(False), subscribers.c.inactive_since <= before]
        async with self.engine.begin() as conn:
            ids = select(subscribers.c.id).where(*where).scalar_subquery()
            await conn.execute(delete(subscriptions).where(subscriptions.c.subscriber_id.in_(ids)))
            result = await conn.execute(delete(subscribers).where(*where))
            return max(result.rowcount, 0)

    async def subscriber_counts(self) -> dict[str, int]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(subscribers.c.platform, func.count())
                .where(subscribers.c.active)
                .group_by(subscribers.c.platform)
            )
            return {str(p): int(n) for p, n in rows.all()}
