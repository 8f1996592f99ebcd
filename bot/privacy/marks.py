"""Which columns hold identities, and how each is protected.

The schema (bot/store/schema.py) marks every column that holds a chat, room,
user or message id, or anything derived from one, with an `Identity` in the
column's `info`, and every table holding such a column with a `Keeping` in
the table's `info`. Sealing, key rotation, scrubbing, `/forget` and retention
take their lists of tables and columns from these marks (`marked_tables`,
`chat_lookup`, ...), so a new table is covered by being marked, and a test
(tests/test_identity_marks.py) fails on an identity-looking column without a
mark. A column whose name only looks like an identity says so with
`NotIdentity`.

This module reads marks on any SQLAlchemy table; it knows no table itself.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table

IDENTITY = "identity"  # the key of a mark in a Column's `info`
KEEPING = "keeping"  # the key of a table's `Keeping` in a Table's `info`


class Holds(enum.StrEnum):
    """What a marked column is derived from."""

    CHAT = "chat"  # a chat or room id (a Telegram private chat's id is its user's id)
    MESSAGES = "messages"  # the platform's ids of the messages sent to a chat
    ADMIN = "admin"  # an admin's platform user id


class Protection(enum.StrEnum):
    """How a marked column is protected at rest."""

    # AES-GCM with the privacy key (a fresh nonce each time); read back when
    # used; re-sealed by encrypt, rotate-key and decrypt. Empty or clear
    # without a key.
    SEALED = "sealed"
    # A keyed one-way stand-in (the blind index of a chat, the hash of an
    # admin): equality works in SQL, the id cannot be read back. The clear id
    # without a key (chats). A chat's index is recomputed from its sealed
    # twin on a key change; a stand-in without one (an admin's hash) cannot
    # be, and its rows are deleted then.
    PSEUDONYMISED = "pseudonymised"
    # In clear even with a key: only ever deleted with its chat (/forget,
    # retention). No column is plain today; a new one must justify it.
    PLAIN = "plain"


@dataclass(frozen=True)
class Identity:
    """The mark of a column holding an identity."""

    holds: Holds
    protection: Protection

    def info(self) -> dict[str, Any]:
        """What to give as the column's `info`."""
        return {IDENTITY: self}


@dataclass(frozen=True)
class NotIdentity:
    """The mark of a column whose name looks like an identity's but is not one."""

    why: str

    def info(self) -> dict[str, Any]:
        return {IDENTITY: self}


@dataclass(frozen=True)
class Keeping:
    """A table holding identities: what its rows are called in progress lines
    (`privacy: chats 10/10`), and how they leave when old: the Store method
    that deletes them (`purge`) and the setting that says how old (`kept`).
    Retention (bot/store/retention.py) calls `purge(now, kept)` for each
    marked table, in seconds."""

    rows: str
    purge: str
    kept: str

    def info(self) -> dict[str, Any]:
        return {KEEPING: self}


def identity(column: Column[Any]) -> Identity | None:
    """The column's identity mark, if it holds an identity."""
    mark = column.info.get(IDENTITY)
    return mark if isinstance(mark, Identity) else None


def marked_columns(table: Table) -> list[tuple[Column[Any], Identity]]:
    """The table's columns that hold identities, in their order."""
    found = []
    for column in table.columns:
        mark = identity(column)
        if mark is not None:
            found.append((column, mark))
    return found


def marked_tables(tables: Iterable[Table]) -> list[Table]:
    """The tables with at least one identity column, in the given order."""
    return [table for table in tables if marked_columns(table)]


def keeping(table: Table) -> Keeping | None:
    found = table.info.get(KEEPING)
    return found if isinstance(found, Keeping) else None


def column_of(table: Table, holds: Holds, protection: Protection) -> Column[Any] | None:
    """The table's column marked so, if any (one at most for chats and
    messages: `problems` checks)."""
    for column, mark in marked_columns(table):
        if mark == Identity(holds, protection):
            return column
    return None


def chat_lookup(table: Table) -> Column[Any] | None:
    """The column a chat is found by (its index, or its plain id), if the
    table holds chats (/forget deletes by it)."""
    index = column_of(table, Holds.CHAT, Protection.PSEUDONYMISED)
    return index if index is not None else column_of(table, Holds.CHAT, Protection.PLAIN)


def dropped_on_new_key(table: Table) -> bool:
    """Whether the table's rows are deleted when the key changes: they hold
    a keyed stand-in that cannot be recomputed (no sealed twin)."""
    return any(
        mark.protection is Protection.PSEUDONYMISED
        and column_of(table, mark.holds, Protection.SEALED) is None
        for _, mark in marked_columns(table)
    )


# What sealing can do, per mark: a chat's index with its sealed twin, sealed
# message ids, stand-ins dropped on a new key, plain values left alone.
_HANDLED = {
    Identity(Holds.CHAT, Protection.PSEUDONYMISED),
    Identity(Holds.CHAT, Protection.SEALED),
    Identity(Holds.CHAT, Protection.PLAIN),
    Identity(Holds.MESSAGES, Protection.SEALED),
    Identity(Holds.ADMIN, Protection.PSEUDONYMISED),
    Identity(Holds.ADMIN, Protection.PLAIN),
}


def problems(table: Table) -> list[str]:
    """Why the operations derived from the marks could not cover the table."""
    marks = marked_columns(table)
    if not marks:
        return []
    found = []
    if keeping(table) is None:
        found.append(f"{table.name}: holds identities but has no Keeping (how its rows leave)")
    for column, mark in marks:
        if mark not in _HANDLED:
            found.append(f"{table.name}.{column.name}: sealing cannot handle {mark}")
        # Sealing and /forget find a chat's and a message's column by its mark.
        if mark.holds is not Holds.ADMIN and [m for _, m in marks].count(mark) > 1:
            found.append(f"{table.name}.{column.name}: two columns marked {mark}")
    chats = {m.protection for _, m in marks if m.holds is Holds.CHAT}
    if (Protection.PSEUDONYMISED in chats) != (Protection.SEALED in chats):
        found.append(f"{table.name}: a chat's index and its sealed twin come together")
    if chats and "platform" not in table.c:
        found.append(f"{table.name}: a chat needs the `platform` column beside it")
    if list(table.primary_key.columns) != [table.c.get("id")]:
        found.append(f"{table.name}: re-sealing walks rows by an `id` primary key")
    return found
