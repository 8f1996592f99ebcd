"""The subscribers and what each follows (`subscribers`, `subscriptions`).

Subscribing, stopping, /language, /forget, a chat moving to a new id, the
configured destinations, and the counts /status shows. A chat's id goes in
and comes out as the platform knows it; `ids` decides what is written
(bot/privacy/identities.py). Stopping or moving a chat also fails or moves
its rows still queued in the outbox, in the same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.privacy.identities import Identities
from bot.store.forgetting import forget_statements
from bot.store.rows import Subscription
from bot.store.schema import outbox, subscribers, subscriptions


class SubscribersMixin:
    engine: AsyncEngine
    ids: Identities
    # Seconds a stopped or gone chat is kept (its language, its campaigns)
    # before it is deleted; 0 deletes it at once.
    keep_inactive: float
    _insert: Any

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
            names = frozenset(
                await conn.scalars(
                    select(subscriptions.c.campaign).where(subscriptions.c.subscriber_id == row.id)
                )
            )
            return Subscription(
                platform,
                chat_id,
                row.active,
                row.everything,
                frozenset() if row.everything else names,
                row.language,
                row.source,
                excluded=names if row.everything else frozenset(),
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
        """Subscribe a chat to `campaigns` (None: every campaign, new ones too).

        A chat that already receives every one of `campaigns` receives only
        them from now on; otherwise they are added to what it receives
        (docs/design-notes.md, "Subscriptions as a user reads them").
        True if the chat was not active before."""
        wanted = None if campaigns is None else set(campaigns)
        async with self.engine.begin() as conn:
            found = (
                await conn.execute(
                    select(subscribers.c.id, subscribers.c.active, subscribers.c.everything).where(
                        *self._chat(platform, chat_id)
                    )
                )
            ).first()
            if found is None:
                result = await conn.execute(
                    subscribers.insert().values(
                        platform=platform,
                        **self.ids.columns(platform, chat_id),
                        language=language,
                        everything=wanted is None,
                        active=True,
                        source=source,
                        created_at=now,
                    )
                )
                key = result.inserted_primary_key
                assert key is not None
                await self._set_names(conn, int(key[0]), wanted or set())
                return True
            sub_id, was_active, everything = int(found.id), bool(found.active), found.everything
            await conn.execute(
                update(subscribers)
                .where(subscribers.c.id == sub_id)
                .values(active=True, inactive_since=None)
            )
            if wanted is None or not was_active:
                await self._follow(conn, sub_id, everything=wanted is None, names=wanted or set())
            else:
                await self._follow_also(conn, sub_id, bool(everything), wanted)
            return not was_active

    async def _follow_also(
        self, conn: AsyncConnection, sub_id: int, everything: bool, wanted: set[str]
    ) -> None:
        """An active chat asks for `wanted`: only them if it had them all, else them too."""
        names = set(await conn.scalars(self._names_of(sub_id)))
        # Every campaign but `names`, or only `names`.
        has_all = not (wanted & names) if everything else wanted <= names
        if has_all:
            await self._follow(conn, sub_id, everything=False, names=wanted)
        elif everything:
            await self._drop_names(conn, sub_id, wanted)  # dropped ones come back
        else:
            await self._set_names(conn, sub_id, wanted - names)

    async def unsubscribe(
        self,
        platform: str,
        chat_id: str,
        campaigns: Iterable[str],
        now: float | None = None,
        *,
        known: Collection[str] = (),
    ) -> None:
        """Stop `campaigns` for an active chat. A chat that followed every
        campaign follows every one but these, new ones included; a chat left
        with none of its campaigns (or of the `known` ones, if it followed
        every campaign but some) stops."""
        dropped = set(campaigns)
        async with self.engine.begin() as conn:
            found = (
                await conn.execute(
                    select(subscribers.c.id, subscribers.c.everything).where(
                        *self._chat(platform, chat_id), subscribers.c.active
                    )
                )
            ).first()
            if found is None:
                return
            sub_id = int(found.id)
            if found.everything:
                names = set(await conn.scalars(self._names_of(sub_id)))
                await self._set_names(conn, sub_id, dropped - names)
                left = bool(set(known) - names - dropped) or not known
            else:
                await self._drop_names(conn, sub_id, dropped)
                left = bool(await conn.scalar(select(self._names_of(sub_id).exists())))
            if not left:
                await self._retire(conn, [subscribers.c.id == sub_id], now)

    @staticmethod
    def _names_of(sub_id: int) -> Any:
        return select(subscriptions.c.campaign).where(subscriptions.c.subscriber_id == sub_id)

    async def _follow(
        self, conn: AsyncConnection, sub_id: int, *, everything: bool, names: set[str]
    ) -> None:
        """Replace what a chat follows: every campaign but `names`, or only `names`."""
        await conn.execute(
            update(subscribers).where(subscribers.c.id == sub_id).values(everything=everything)
        )
        await conn.execute(delete(subscriptions).where(subscriptions.c.subscriber_id == sub_id))
        await self._set_names(conn, sub_id, names)

    async def _set_names(self, conn: AsyncConnection, sub_id: int, names: set[str]) -> None:
        if names:
            rows = [{"subscriber_id": sub_id, "campaign": c} for c in sorted(names)]
            await conn.execute(self._insert(subscriptions).values(rows).on_conflict_do_nothing())

    async def _drop_names(self, conn: AsyncConnection, sub_id: int, names: set[str]) -> None:
        await conn.execute(
            delete(subscriptions).where(
                subscriptions.c.subscriber_id == sub_id,
                subscriptions.c.campaign.in_(sorted(names)),
            )
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
                # Done now, so retention (purge_done) forgets these rows, and
                # with them the chat's index, like any other finished row.
                .values(state="failed", last_error=error_kind, done_at=now or time.time())
            )

    async def forget(self, platform: str, chat_id: str) -> None:
        """Delete everything stored about a chat: every table the schema marks
        as holding chats, and what points at their rows (bot/store/forgetting.py)."""
        async with self.engine.begin() as conn:
            for statement in forget_statements(self.ids, platform, chat_id):
                await conn.execute(statement)
        if self.engine.dialect.name == "sqlite":
            # secure_delete zeroes the rows in the database file, but the
            # write-ahead log still holds the pages as they were until it is
            # checkpointed: copy it back and empty it now.
            async with self.engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))

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
            # A configured destination follows every campaign, with no exception.
            config_ids = select(subscribers.c.id).where(subscribers.c.source == "config")
            await conn.execute(
                delete(subscriptions).where(
                    subscriptions.c.subscriber_id.in_(config_ids.scalar_subquery())
                )
            )

    async def drop_subscribers(self) -> int:
        """Delete every subscriber (channel-only mode keeps none)."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(subscriptions))
            result = await conn.execute(delete(subscribers))
            return max(result.rowcount, 0)

    async def purge_inactive(self, now: float | None = None, kept: float | None = None) -> int:
        """Delete the chats stopped or gone more than `kept` seconds
        (keep_inactive unless given) before `now`; retention (bot/store/retention.py)."""
        before = (now or time.time()) - (self.keep_inactive if kept is None else kept)
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
