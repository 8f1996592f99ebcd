"""What each kind of outbox row does when its turn comes: one composer per kind.

The rows store ids, not text: a composer renders the message from the
catalog as it is now, in the row's language, so a row sent late carries the
latest version. Broadcasts and notices send; edits bring a sent update's
messages to the current text; deletions take a withdrawn update back. A row
with nothing left to do raises `Unsendable` with the reason recorded.
Reminders and picket-moved notices are the scheduler's (bot/pickets/scheduler.py).
"""

from __future__ import annotations

from datetime import date

from bot.adapters.base import Outgoing
from bot.clock import Clock
from bot.content.catalog import Catalog
from bot.content.items import Item
from bot.delivery.worker import Action, Composer, Edit, Send, TakeBack, Unsendable
from bot.i18n import Texts
from bot.keys import MessageKey, RowKind
from bot.render.compose import (
    as_read,
    correction_notice,
    item_message,
    revision,
    untranslated,
    withdrawn_text,
)
from bot.store import OutboxRow, Store

# Composed broadcasts kept (items x languages x correction days).
SENDS_CACHED = 256


class ItemComposers:
    """Broadcast, edit, notice and delete rows of the catalog's updates."""

    def __init__(self, catalog: Catalog, store: Store, clock: Clock) -> None:
        self.catalog = catalog
        self.store = store
        self.clock = clock
        # A broadcast is one text per language for thousands of rows: composed
        # (and its revision digested) once per (item, language, correction
        # day), not per row. An entry holds the item it was made from, so a
        # reloaded file (a new Item) is composed afresh.
        self._sends: dict[tuple[str, str | None, date | None], tuple[Item, Send]] = {}

    def composers(self) -> dict[RowKind, Composer]:
        """The row kinds composed here (bot/delivery/registry.py joins them)."""
        return {
            RowKind.BROADCAST: self.broadcast,
            RowKind.EDIT: self.edit,
            RowKind.NOTICE: self.notice,
            RowKind.DELETE: self.delete,
        }

    def _read(self, row: OutboxRow) -> tuple[Item, Texts]:
        """The row's item as its reader gets it, and the reader's words."""
        item = self.catalog.items.get(row.item_id)
        if item is None:
            withdrawn = row.item_id in self.catalog.withdrawn
            raise Unsendable("withdrawn" if withdrawn else "item-gone")
        return as_read(item, row.language, self.catalog.default_lang)

    def _message(self, item: Item, t: Texts, corrected_on: date | None) -> Outgoing:
        """The update for one reader, said to be untranslated where it is."""
        text = item_message(item, t, corrected_on)
        note = untranslated(item, t)
        return Outgoing(
            f"{note}\n\n{text}" if note else text,
            protect_content=item.protect_content,
            media=item.media,  # with the reader's alt texts (Item.in_language)
        )

    def _today(self) -> date:
        return self.clock.now().astimezone(self.catalog.zone).date()

    async def _standing(self, row: OutboxRow) -> tuple[tuple[str, ...], str | None]:
        """The messages (and their revision) in the chat that this row acts on."""
        found = None if row.target_id is None else await self.store.target_of(row.target_id)
        if found is None or not found[0]:
            raise Unsendable("target-gone")
        return found

    async def broadcast(self, row: OutboxRow) -> Action:
        base = self.catalog.items.get(row.item_id)
        corrected_on = self._today() if base is not None and base.correction else None
        key = (row.item_id, row.language, corrected_on)
        cached = self._sends.get(key)
        if base is not None and cached is not None and cached[0] is base:
            return cached[1]
        item, t = self._read(row)  # raises Unsendable if the item is gone
        assert base is not None
        send = Send(self._message(item, t, corrected_on), revision(item, t))
        if len(self._sends) >= SENDS_CACHED:
            self._sends.clear()
        self._sends[key] = (base, send)
        return send

    async def edit(self, row: OutboxRow) -> Action:
        item, t = self._read(row)
        ids, standing = await self._standing(row)
        current = revision(item, t)
        if standing == current:
            raise Unsendable("unchanged")  # an earlier edit row already brought it here
        message = self._message(item, t, self._today())
        assert row.target_id is not None
        return Edit(message, ids, current, row.target_id)

    async def notice(self, row: OutboxRow) -> Action:
        item, t = self._read(row)
        if not item.correction:
            raise Unsendable("superseded")  # the correction line is gone again
        current = revision(item, t)
        if row.revision != current:
            # Overtaken by a later change: that change's own notice goes out if
            # this chat has one; if not (its edit already showed the latest
            # text), this notice goes out, saying what the latest correction is.
            newer = MessageKey.followup(RowKind.NOTICE, row.item_id, current)
            if await self.store.has_row(row.item_id, str(newer), row.platform, row.chat_id):
                raise Unsendable("superseded")
        ids, _ = await self._standing(row)
        text = correction_notice(item, t)
        return Send(Outgoing(text, protect_content=item.protect_content, reply_to=ids[0]))

    async def delete(self, row: OutboxRow) -> Action:
        item = self.catalog.withdrawn.get(row.item_id)
        if item is None:
            raise Unsendable("superseded")  # no longer withdrawn (or the file is gone)
        ids, _ = await self._standing(row)
        local, t = as_read(item, row.language, self.catalog.default_lang)
        note = Outgoing(withdrawn_text(local, t))
        assert row.target_id is not None
        return TakeBack(ids, item.withdrawn or "", note, row.target_id)
