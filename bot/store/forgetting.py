"""/forget: which rows name a chat, taken from the identity marks.

Every table with a chat look-up column (bot/privacy/marks.py) loses the
chat's rows, and so does every table whose foreign key points at them, first
(subscriptions, before their subscriber). A new table holding chats is
covered by being marked in the schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Delete, Table, delete, select

from bot.privacy.identities import Identities
from bot.privacy.marks import Protection, chat_lookup, identity
from bot.store.schema import metadata

# Every table, in the schema's order: where chats are and what points at them.
TABLES: tuple[Table, ...] = tuple(metadata.tables.values())


def chat_tables(tables: Sequence[Table]) -> list[Table]:
    """The tables /forget deletes a chat's rows from, by its look-up column."""
    return [table for table in tables if chat_lookup(table) is not None]


def _children(table: Table, tables: Sequence[Table]) -> Iterator[tuple[Table, Any, Any]]:
    """(child table, its foreign key column, the column it points at)."""
    for child in tables:
        for column in child.columns:
            for key in column.foreign_keys:
                if key.column.table is table:
                    yield child, column, key.column


def forget_statements(
    ids: Identities, platform: str, chat_id: str, tables: Sequence[Table] = TABLES
) -> list[Delete]:
    """The DELETEs that remove everything `tables` hold about one chat."""
    statements = []
    for table in chat_tables(tables):
        lookup = chat_lookup(table)
        assert lookup is not None
        mark = identity(lookup)
        plain = mark is not None and mark.protection is Protection.PLAIN
        value = chat_id if plain else ids.index(platform, chat_id)
        where = (table.c.platform == platform, lookup == value)
        for child, key, parent in _children(table, tables):
            statements.append(delete(child).where(key.in_(select(parent).where(*where))))
        statements.append(delete(table).where(*where))
    return statements
