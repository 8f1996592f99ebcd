"""Retention: old rows leave as the schema's marks say.

Every table holding identities carries a `Keeping` (bot/privacy/marks.py)
naming the Store method that deletes its old rows (`purge`) and the setting
that says how old they may get (`kept`). `purge_old` runs every one of them,
so a new table is purged when old by being marked and given its purge
method: nobody adds a call.

A purge is called as `purge(now, kept)`: Unix seconds now, and the
setting's age in seconds; it returns how many rows it deleted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from sqlalchemy import Table

from bot.privacy.marks import Keeping, keeping
from bot.store.forgetting import TABLES

Purge = Callable[[float, float], Awaitable[int]]


def kept_tables(tables: Sequence[Table] = TABLES) -> list[tuple[Table, Keeping]]:
    """The tables whose old rows leave, with how, in the schema's order."""
    found = []
    for table in tables:
        mark = keeping(table)
        if mark is not None:
            found.append((table, mark))
    return found


class RetentionMixin:
    async def purge_old(
        self,
        now: float,
        setting: Callable[[str], timedelta],
        tables: Sequence[Table] = TABLES,
    ) -> dict[str, int]:
        """Run the purge of every table of `tables` with a `Keeping` mark,
        with the age `setting` gives for the mark's setting name (a config
        path such as `privacy.keep_delivery_records`). Returns the rows
        deleted per table."""
        deleted = {}
        for table, mark in kept_tables(tables):
            purge: Purge = getattr(self, mark.purge)
            deleted[table.name] = await purge(now, setting(mark.kept).total_seconds())
        return deleted
