"""The store: one `Store` object over the database, its methods grouped by
the table they keep, one module each:

- subscribers.py: the chats and what each follows (`subscribers`,
  `subscriptions`): subscribe, stop, /language, /forget, moves, destinations.
- outbox_fanout.py, outbox_followups.py, outbox_queue.py: the outbox
  (`outbox`): fan-out of a message to its chats; edits, notices and
  deletions of what was sent; claims, leases and each send's outcome.
- broadcasts.py: what became of each item (`broadcasts`, and an item's
  rows as a whole): keys already fanned out, row states, /halt.
- drafts.py: the organisers' drafts (`drafts`).
- adapter_state.py: the adapters' key-value state (`adapter_state`).
- retention.py: old rows of every table leave, as the schema's marks say.

The same SQL serves SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.privacy.identities import Identities
from bot.store.adapter_state import AdapterStateMixin
from bot.store.broadcasts import BroadcastsMixin
from bot.store.database import release_postgres_lock
from bot.store.drafts import DraftsMixin
from bot.store.outbox_fanout import OutboxFanoutMixin
from bot.store.outbox_followups import OutboxFollowupsMixin
from bot.store.outbox_queue import OutboxQueueMixin
from bot.store.retention import RetentionMixin
from bot.store.subscribers import SubscribersMixin


class Store(
    SubscribersMixin,
    OutboxFanoutMixin,
    OutboxFollowupsMixin,
    OutboxQueueMixin,
    BroadcastsMixin,
    DraftsMixin,
    AdapterStateMixin,
    RetentionMixin,
):
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
