"""What is registered with the delivery core: one typed table per kind of
thing, built once and checked when the bot starts.

- Row kinds: `RowKind` (bot/keys.py), the closed list of what an outbox row
  can do.
- Composers: `Composers`, one per row kind, joined from the parties that own
  kinds (the catalog's updates in bot/delivery/composers.py: broadcast,
  edit, notice, delete; the picket scheduler: reminder, moved). A kind with
  no composer, or with two, is a `RegistrationError` when the table is
  built, in `App.start`: never a row that fails at send time.
- Reload hooks: `ReloadHooks`, the tuple run after every catalog reload.

A party hands its own table (`composers()`); nothing writes into another's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Protocol

from bot.content.catalog import Changes
from bot.delivery.actions import Action, Composer
from bot.keys import RowKind
from bot.store import OutboxRow

ReloadHook = Callable[[Changes], Awaitable[None]]
ReloadHooks = tuple[ReloadHook, ...]


class RegistrationError(Exception):
    """The parts registered with the core do not fit together (a bug, found at start)."""


class ComposerParty(Protocol):
    """A part of the bot that composes some row kinds."""

    def composers(self) -> Mapping[RowKind, Composer]: ...


class Composers(Mapping[RowKind, Composer]):
    """Every row kind's composer: complete, each kind from exactly one party."""

    def __init__(self, *parties: ComposerParty) -> None:
        table: dict[RowKind, Composer] = {}
        owners: dict[RowKind, str] = {}
        for party in parties:
            name = type(party).__name__
            for kind, composer in party.composers().items():
                if kind in table:
                    raise RegistrationError(
                        f"row kind {str(kind)!r} has two composers ({owners[kind]} and {name})"
                    )
                table[kind] = composer
                owners[kind] = name
        missing = [str(kind) for kind in RowKind if kind not in table]
        if missing:
            raise RegistrationError(
                f"no composer for row kind(s) {', '.join(missing)}: every RowKind needs one "
                "(see docs/design-notes.md, adding an outbox row kind)"
            )
        self._table = table

    def __getitem__(self, kind: RowKind) -> Composer:
        return self._table[kind]

    def __setitem__(self, kind: RowKind, composer: Composer) -> None:
        """Replace a kind's composer (tests wrap one); no kind is added or removed."""
        if kind not in self._table:
            raise RegistrationError(f"{str(kind)!r} is not a row kind")
        self._table[kind] = composer

    def __iter__(self) -> Iterator[RowKind]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    async def compose(self, row: OutboxRow) -> Action:
        """The action for `row`, by its kind's composer."""
        return await self._table[row.kind](row)
