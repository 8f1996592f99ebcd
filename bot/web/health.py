"""`/healthz`: is the bot alive? The database answers and every adapter is connected.

The answer is one line: `ok`, or the first reason it is not (the database
not answering, `matrix: sync failing (…)`). It names no chat and no user.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.adapters.base import Adapter
from bot.store import Store
from bot.store.web_reads import ping

DATABASE_TIMEOUT = 3.0


async def database_problem(store: Store, timeout: float = DATABASE_TIMEOUT) -> str | None:
    """None when the bot's own tables answer a query within `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            await ping(store)
    except TimeoutError:
        return f"database: no answer within {timeout:g}s"
    except Exception as exc:
        return f"database: not answering ({type(exc).__name__})"
    return None


async def health_problem(store: Store, adapters: Sequence[Adapter]) -> str | None:
    """The first reason the bot is not healthy, or None."""
    problem = await database_problem(store)
    if problem is not None:
        return problem
    for adapter in adapters:
        reason = adapter.health()
        if reason is not None:
            return reason
    return None
