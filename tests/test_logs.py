"""Logs name no chat: ids are replaced by stable pseudonyms."""

from __future__ import annotations

from bot.logs import pseudonym


def test_pseudonym_hides_the_room_but_stays_stable() -> None:
    room = "!AbCdEfGh:example.org"
    name = pseudonym(room)
    assert name == pseudonym(room)
    assert name != pseudonym("!other:example.org")
    assert "example" not in name and "AbCd" not in name
    assert len(name) == 11
