"""Fan-out: when an item becomes broadcastable, write its outbox rows.

An item is broadcast once (its message key is `item:<id>`), when its moment
(`publish_at`, else its date) has come and is not older than
`broadcast.max_age`. The store makes the fan-out one transaction and
idempotent, so a restart or a second process enqueues nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.catalog import Catalog
from bot.items import Item
from bot.store import Store

log = logging.getLogger(__name__)


def item_key(item_id: str) -> str:
    return f"item:{item_id}"


class Dispatcher:
    def __init__(self, store: Store, platforms: Sequence[str], max_age: timedelta) -> None:
        self.store = store
        self.platforms = list(platforms)
        self.max_age = max_age

    def broadcastable(self, item: Item, now: datetime) -> bool:
        moment = item.published_at
        return moment <= now and now - moment <= self.max_age

    async def broadcast_due(self, catalog: Catalog, now: datetime) -> int:
        """Enqueue every due item not broadcast yet; return rows written."""
        written = 0
        for item in sorted(catalog.items.values(), key=lambda i: (i.published_at, i.id)):
            if not self.broadcastable(item, now):
                continue
            key = item_key(item.id)
            if await self.store.was_broadcast(key):
                continue
            count = await self.enqueue(item, key, "", now)
            if count is not None:
                log.info("broadcast item=%s recipients=%d", item.id, count)
                written += count
        return written

    async def enqueue(
        self,
        item: Item,
        key: str,
        variant: str,
        now: datetime,
        chats: Sequence[tuple[str, str]] | None = None,
    ) -> int | None:
        return await self.store.enqueue(
            key, item.id, variant, item.campaigns, self.platforms, now.timestamp(), chats
        )
