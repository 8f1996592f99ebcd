"""Everything registered with the delivery core is checked when the bot starts:
a row kind nobody composes stops the start instead of failing rows later."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.app import App
from bot.delivery.actions import Action, Composer
from bot.delivery.composers import ItemComposers
from bot.delivery.registry import Composers, RegistrationError
from bot.keys import RowKind
from bot.store import OutboxRow, open_store
from tests.conftest import make_config, write_update
from tests.recording import RecordingAdapter

TODAY = time.strftime("%Y-%m-%d", time.gmtime())


async def nothing(row: OutboxRow) -> Action:
    raise AssertionError("not called")


class Party:
    def __init__(self, *kinds: RowKind) -> None:
        self.kinds = kinds

    def composers(self) -> dict[RowKind, Composer]:
        return dict.fromkeys(self.kinds, nothing)


def test_the_table_names_every_kind_without_a_composer() -> None:
    with pytest.raises(RegistrationError, match=r"no composer for row kind\(s\) notice, delete"):
        Composers(Party(*(k for k in RowKind if k not in (RowKind.NOTICE, RowKind.DELETE))))


def test_a_kind_with_two_composers_is_refused() -> None:
    with pytest.raises(RegistrationError, match="row kind 'edit' has two composers"):
        Composers(Party(*RowKind), Party(RowKind.EDIT))


def test_a_complete_table_composes_each_kind_by_its_own() -> None:
    table = Composers(Party(*RowKind))
    assert set(table) == set(RowKind)
    with pytest.raises(RegistrationError, match="not a row kind"):
        table["bogus"] = nothing  # type: ignore[index]


async def test_a_row_kind_without_a_composer_fails_the_start_and_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'bot.db'}")
    await store.subscribe("telegram", "1", None, time.time())
    await store.close()
    write_update(
        tmp_path / "updates",
        "strike.md",
        f"kind: news\ntitle: Strike news\ndate: {TODAY}",
        "The strike goes on.",
    )
    full = ItemComposers.composers

    def without_notices(self: ItemComposers) -> dict[RowKind, Composer]:
        table = full(self)
        del table[RowKind.NOTICE]
        return table

    monkeypatch.setattr(ItemComposers, "composers", without_notices)
    tg = RecordingAdapter()
    app = App(make_config(tmp_path), adapters=[tg], watch=False)
    try:
        with pytest.raises(RegistrationError, match=r"no composer for row kind\(s\) notice"):
            await app.start()
    finally:
        await app.stop()
    assert not tg.started
    assert tg.sent == []
    # Nothing was fanned out either: the start stopped before the first tick.
    store = await open_store(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        assert not await store.was_broadcast("item:strike")
    finally:
        await store.close()
