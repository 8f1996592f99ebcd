"""What the bot tells its admins, and where: problems in update files, and
corrections that came too late to reach the chats.

The admin chats are the console, Telegram's `admins` (a user's private chat
has the user's id) and every chat under `reports:`. Each report is one
translated message in the config's language; a send that fails is logged
(platform and error kind, no chat) and the others still go.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from bot.adapters.base import Adapter, Outgoing, SendError
from bot.chat import answers
from bot.config import Config
from bot.content.catalog import Catalog, Changes
from bot.i18n import texts
from bot.keys import MessageKey
from bot.platforms import Platform
from bot.problems import Problem
from bot.store import Store

# The lines were the App's before they moved here: operators filter on its name.
log = logging.getLogger("bot.app")

# The console's one chat.
CONSOLE_CHAT = "local"


def admin_chats(config: Config, adapters: Iterable[Adapter]) -> list[tuple[Adapter, str]]:
    """(adapter, chat) of every admin chat on the running platforms."""
    chats: list[tuple[Adapter, str]] = []
    for adapter in adapters:
        if adapter.platform == Platform.CONSOLE:
            chats.append((adapter, CONSOLE_CHAT))
        elif adapter.platform == Platform.TELEGRAM and config.telegram is not None:
            # A Telegram user's private chat has the user's id.
            chats += [(adapter, str(a)) for a in config.telegram.admins]
        chats += [(adapter, r.chat) for r in config.reports if r.platform == adapter.platform]
    return chats


class AdminReports:
    """Reports to the admin chats; remembers which file problems were told."""

    def __init__(
        self, config: Config, adapters: Sequence[Adapter], store: Store, catalog: Catalog
    ) -> None:
        self.config = config
        self.adapters = adapters
        self.store = store
        self.catalog = catalog
        self._reported: set[Problem] = set()

    async def tell(self, text: str, but: tuple[str, str] | None = None) -> None:
        """Send `text` to every admin chat (but the one at `but`: platform, chat)."""
        for adapter, chat_id in admin_chats(self.config, self.adapters):
            if (adapter.platform, chat_id) == but:
                continue
            try:
                await adapter.send(chat_id, Outgoing(text))
            except SendError as exc:
                log.warning("admin report failed platform=%s error=%s", adapter.platform, exc.kind)

    async def problems(self) -> None:
        """Tell the admins about files that became invalid (each problem once)."""
        # Warnings too (a name the folder reader skips, a link to nothing).
        current = set(self.catalog.problems) | set(self.catalog.warnings)
        new = sorted(current - self._reported, key=lambda p: (str(p.path), p.line))
        self._reported = current
        if not new:
            return
        for problem in new:
            log.warning("invalid update %s", problem.format())
        t = texts(self.config.language)
        heading = answers.bold(t.md("Update files that were not published:"))
        text = heading + "\n\n" + "\n".join(f"- `{p.format()}`" for p in new)
        await self.tell(text)

    async def too_old(self, changes: Changes) -> None:
        """A change to an item whose delivery records are gone reaches nobody: say so."""
        too_old = []
        for item_id in (*changes.changed, *changes.withdrawn):
            key = str(MessageKey.broadcast(item_id))
            if await self.store.was_broadcast(key) and not await self.store.has_rows(item_id, key):
                too_old.append(item_id)
        if not too_old:
            return
        days = self.config.privacy.keep_delivery_records.days
        for item_id in too_old:
            log.warning("correction too old to edit item=%s", item_id)
        t = texts(self.config.language)
        text = (
            answers.bold(t.md("Too old to edit:"))
            + " "
            + t.nmd(
                "{items}. Delivery records are kept {count} day, so the messages already sent "
                "cannot be corrected or withdrawn; publish a new update instead.",
                "{items}. Delivery records are kept {count} days, so the messages already sent "
                "cannot be corrected or withdrawn; publish a new update instead.",
                days,
                items=", ".join(too_old),
            )
        )
        await self.tell(text)
