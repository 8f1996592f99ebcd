"""Fan-out: when an item becomes broadcastable, write its outbox rows; when a
sent item changes or is withdrawn, write the rows that follow it up.

An item is broadcast once (its message key is `item:<id>`, bot/keys.py), when its moment
(`publish_at`, else its date) has come and is not older than
`broadcast.max_age`. The store makes the fan-out one transaction and
idempotent, so a restart or a second process enqueues nothing twice.

Follow-ups compare what each chat was sent (the row's revision, a digest of
the text in that chat's language) with what the catalog says now: chats with
an older revision get an edit row (and, with `correction:`, a notice row);
every message of a withdrawn item gets a delete row. The keys name the
revision (or the row taken back), so this can run on every tick, in every
process, and still write each follow-up once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.content.catalog import Catalog
from bot.content.items import Item
from bot.keys import MessageKey, RowKind, Variant
from bot.render.compose import as_read, revision
from bot.store import Store

log = logging.getLogger(__name__)

__all__ = ["Dispatcher", "Followups"]


@dataclass(frozen=True)
class Followups:
    """What a change to sent items would do (or did): rows per kind."""

    edits: int = 0
    notices: int = 0
    deletes: int = 0
    languages: frozenset[str] = frozenset()

    def __add__(self, other: Followups) -> Followups:
        return Followups(
            self.edits + other.edits,
            self.notices + other.notices,
            self.deletes + other.deletes,
            self.languages | other.languages,
        )

    @property
    def rows(self) -> int:
        return self.edits + self.notices + self.deletes


class Dispatcher:
    def __init__(
        self,
        store: Store,
        platforms: Sequence[str],
        max_age: timedelta,
        keep_records: timedelta = timedelta(days=30),
        default_lang: str = "en",
    ) -> None:
        self.default_lang = default_lang
        self.store = store
        self.platforms = list(platforms)
        self.max_age = max_age
        self.keep_records = keep_records

    def broadcastable(self, item: Item, now: datetime) -> bool:
        moment = item.published_at
        return moment <= now and now - moment <= self.max_age

    async def broadcast_due(self, catalog: Catalog, now: datetime) -> int:
        """Enqueue every due item not broadcast yet; return rows written."""
        written = 0
        for item in sorted(catalog.items.values(), key=lambda i: (i.published_at, i.id)):
            if not self.broadcastable(item, now):
                continue
            key = MessageKey.broadcast(item.id)
            if await self.store.was_broadcast(str(key)):
                continue
            count = await self.enqueue(item, key, Variant.PLAIN, now)
            if count is not None:
                log.info("broadcast item=%s recipients=%d", item.id, count)
                written += count
        return written

    async def enqueue(
        self,
        item: Item,
        key: MessageKey,
        variant: Variant,
        now: datetime,
        chats: Sequence[tuple[str, str]] | None = None,
    ) -> int | None:
        """Fan out one row of `key`'s kind per chat (of `chats`), once per key."""
        return await self.store.enqueue(
            str(key),
            item.id,
            variant,
            item.campaigns,
            self.platforms,
            now.timestamp(),
            chats,
            kind=key.kind,
        )

    async def followups_due(self, catalog: Catalog, now: datetime) -> Followups:
        """Write the edit, notice and delete rows that sent items now need."""
        done = Followups()
        horizon = now - self.keep_records
        for item in catalog.items.values():
            if horizon <= item.published_at <= now:
                done += await self.corrections(item, now)
        for item in catalog.withdrawn.values():
            deletes = await self.store.enqueue_deletes(item.id, self.platforms, now.timestamp())
            if deletes:
                log.info("withdrawal item=%s deletions=%d", item.id, deletes)
            done += Followups(deletes=deletes)
        return done

    async def corrections(self, item: Item, now: datetime, *, dry_run: bool = False) -> Followups:
        """Edit rows (and notices, with `correction:`) for the chats whose
        copy of `item` is not the current text; with `dry_run`, only count."""
        done = Followups()
        # language -> (what its readers get now, its revision, chats with another)
        stale: dict[str | None, tuple[Item, str, int]] = {}
        for lang, sent, chats in await self.store.sent_revisions(item.id):
            if lang not in stale:
                local, t = as_read(item, lang, self.default_lang)
                stale[lang] = (local, revision(local, t), 0)
            local, current, behind = stale[lang]
            # Rows from before revisions were recorded say nothing: leave them.
            if sent is not None and sent != current:
                stale[lang] = (local, current, behind + chats)
        for lang, (local, current, chats) in stale.items():
            if not chats:
                continue
            kinds = [RowKind.EDIT] + ([RowKind.NOTICE] if local.correction else [])
            counts = dict.fromkeys(kinds, chats)
            if not dry_run:
                for kind in kinds:
                    counts[kind] = await self.store.enqueue_followups(
                        kind=kind,
                        item_id=item.id,
                        language=lang,
                        revision=current,
                        platforms=self.platforms,
                        now=now.timestamp(),
                    )
            found = Followups(
                counts[RowKind.EDIT], counts.get(RowKind.NOTICE, 0), 0, frozenset({local.lang})
            )
            if found.rows and not dry_run:
                log.info(
                    "correction item=%s lang=%s edits=%d notices=%d",
                    item.id,
                    local.lang,
                    found.edits,
                    found.notices,
                )
            done += found
        return done
