"""The reads the web endpoints make that no other part of the bot needs.

`/healthz` asks whether the database answers and `/metrics` how long the
oldest due row has waited per platform. They live here, next to the tables,
so bot/web runs no SQL of its own. Plain functions of a `Store`: they read
only `store.engine` and the schema, whatever mixin holds the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from bot.store.schema import outbox, subscribers

if TYPE_CHECKING:
    from bot.store.store import Store


async def ping(store: Store) -> None:
    """Read one row of the bot's own tables; raises when the database does not answer."""
    async with store.engine.connect() as conn:
        await conn.execute(select(subscribers.c.id).limit(1))


async def oldest_due(store: Store, now: float) -> dict[str, float]:
    """Per platform, the due time (a Unix stamp) of its oldest queued row due by `now`."""
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.platform, func.min(outbox.c.due_at))
            .where(outbox.c.state == "queued", outbox.c.due_at <= now)
            .group_by(outbox.c.platform)
        )
        return {str(platform): float(due) for platform, due in rows.all()}
