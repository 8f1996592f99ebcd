"""The publishing desk: what /post and the rest share, and the admin's views of it.

`Desk` is what publishing needs besides the catalog and the store (the App
builds it). `DeskCommands` holds the pieces every publishing command uses
(the clock, the owner's keyed hash, finding a draft, the preview) and the
commands that only look or stop: /cancel, /drafts, /items, /halt. Drafting
and applying are bot/chat/publishing.py, a subclass.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.adapters.base import Incoming, Outgoing
from bot.chat import desk_answers as say
from bot.chat.table import Asked
from bot.clock import Clock
from bot.config import PublishingConfig
from bot.content.catalog import Catalog, Changes
from bot.content.items import Item
from bot.content.writer import slug
from bot.delivery.dispatcher import Dispatcher
from bot.i18n import Texts, texts
from bot.render.compose import as_read, item_message
from bot.store import Draft, DraftAction, Store

log = logging.getLogger(__name__)

# How long /halt waits for the sends already under way to be recorded.
HALT_WAIT = 10.0

TellAdmins = Callable[[str, tuple[str, str]], Awaitable[None]]


@dataclass
class Desk:
    """What publishing needs besides the catalog and the store."""

    config: PublishingConfig
    platforms: Sequence[str]
    dispatcher: Dispatcher
    # Read updates/ again and fan out (App.reload).
    reload: Callable[[], Awaitable[Changes]]
    # Tell every admin but the one at (platform, chat).
    tell_admins: TellAdmins
    # Keys the owner hashes: a random secret kept in the database.
    key: bytes
    # Items older than this are listed, not broadcast (broadcast.max_age).
    max_age: timedelta
    halt_wait: float = HALT_WAIT


class DeskCommands:
    catalog: Catalog
    store: Store
    clock: Clock
    default_lang: str
    desk: Desk | None

    def now(self) -> datetime:
        return self.clock.now()

    def _desk(self) -> Desk:
        assert self.desk is not None, "publishing needs a Desk (App wires one)"
        return self.desk

    def _owner(self, msg: Incoming) -> str:
        who = f"{msg.platform}:{msg.sender or msg.chat_id}".encode()
        return hmac.new(self._desk().key, who, hashlib.sha256).hexdigest()[:32]

    def _stem(self, title: str) -> str:
        """The id a title gives; a title with no Latin letters gives the date."""
        return slug(title) or f"news-{self.now().astimezone(self.catalog.zone):%Y-%m-%d}"

    def _preview(self, item: Item, q: Asked) -> Outgoing:
        local, t = as_read(item, q.lang, self.default_lang)
        return Outgoing(item_message(local, t), protect_content=item.protect_content)

    def _texts_default(self) -> Texts:
        return texts(self.default_lang)

    async def _find(self, q: Asked, *, own: bool) -> Draft | str:
        now = self.now().timestamp()
        if q.args:
            draft = await self.store.draft(q.args[0].lower(), now)
            return draft if draft is not None else say.unknown_draft(q.t, q.args[0])
        me = self._owner(q.msg)
        mine = [d for d in await self.store.open_drafts(now) if d.owner == me or not own]
        return mine[-1] if mine else say.no_draft(q.t)

    async def cmd_cancel(self, q: Asked) -> list[Outgoing]:
        # Any admin may drop any draft: the brake on a seized phone's post.
        found = await self._find(q, own=not q.args)
        if isinstance(found, str):
            return [Outgoing(found)]
        if not await self.store.take_draft(found.id):
            return [Outgoing(say.gone_meanwhile(q.t, found.id))]
        log.info("draft dropped platform=%s", q.msg.platform)
        return [Outgoing(say.cancelled(q.t, found.id))]

    async def cmd_drafts(self, q: Asked) -> list[Outgoing]:
        now = self.now().timestamp()
        if q.args:
            draft = await self.store.draft(q.args[0].lower(), now)
            if draft is None:
                return [Outgoing(say.unknown_draft(q.t, q.args[0]))]
            return await self._show(q, draft)
        me = self._owner(q.msg)
        drafts = [(d, d.owner == me) for d in await self.store.open_drafts(now)]
        return [Outgoing(say.drafts_list(q.t, drafts, self._desk().config.approvals))]

    async def _show(self, q: Asked, draft: Draft) -> list[Outgoing]:
        """A draft as its preview, for the admin asked to approve it."""
        if draft.action is DraftAction.WITHDRAW:
            item = self.catalog.everything().get(draft.item_id or "")
            if item is None:
                return [Outgoing(say.no_such_item(q.t, draft.item_id or ""))]
            sent = await self.store.sent_chats(item.id)
            return [Outgoing(say.withdraw_preview(q.t, item, sent))]
        stem = draft.item_id or self._stem(draft.title)
        item, _ = self.catalog.check_text(stem, draft.text.encode())
        if item is None:
            return [Outgoing(say.gone_meanwhile(q.t, draft.id))]
        return [self._preview(item, q)]

    async def cmd_items(self, q: Asked) -> list[Outgoing]:
        everything = sorted(
            self.catalog.everything().values(), key=lambda i: (i.date, i.id), reverse=True
        )[:15]
        now = self.now()
        listed = []
        for item in everything:
            note = ""
            if item.withdrawn is not None:
                note = q.t._("withdrawn")
            elif item.publish_at is not None and item.publish_at > now:
                note = q.t._("from {moment}").format(moment=q.t.moment(item.publish_at))
            listed.append((item, note))
        return [Outgoing(say.items_list(q.t, listed))]

    async def cmd_halt(self, q: Asked) -> list[Outgoing]:
        if not q.args:
            return [Outgoing(say.usage_id(q.t, "halt"))]
        item_id = q.args[0].lower()
        if item_id not in self.catalog.everything():
            return [Outgoing(say.no_such_item(q.t, item_id))]
        stopped = await self.store.halt(item_id, self.now().timestamp())
        states = await self._settled(item_id)
        log.info("halted item=%s stopped=%d", item_id, stopped)
        sent = states.get("sent", 0)
        if not stopped:
            return [Outgoing(say.nothing_to_halt(q.t, item_id, sent))]
        return [Outgoing(say.halted(q.t, item_id, sent, stopped, states.get("sending", 0)))]

    async def _settled(self, item_id: str) -> dict[str, int]:
        """The item's row states once the sends under way are recorded (or
        after `halt_wait`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._desk().halt_wait
        while True:
            states = await self.store.item_row_states(item_id)
            if not states.get("sending") or loop.time() >= deadline:
                return states
            await asyncio.sleep(0.2)
