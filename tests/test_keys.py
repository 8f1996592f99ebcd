"""Message keys: one type builds and reads every key the outbox stores, and the
strings already in databases read the same as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.content.items import SLUG
from bot.keys import BadKey, MessageKey, RowKind, stamp

ids = st.from_regex(SLUG, fullmatch=True).filter(lambda s: len(s) <= 60)
revisions = st.binary(min_size=8, max_size=8).map(bytes.hex)
offsets = st.integers(min_value=1, max_value=60 * 86400).map(lambda s: timedelta(seconds=s))
starts = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
targets = st.integers(min_value=1, max_value=2**62)

keys = st.one_of(
    ids.map(MessageKey.broadcast),
    st.builds(MessageKey.followup, st.sampled_from([RowKind.EDIT, RowKind.NOTICE]), ids, revisions),
    st.builds(MessageKey.delete, ids, targets),
    st.builds(MessageKey.reminder, ids, offsets, starts),
    st.builds(MessageKey.moved, ids, starts),
)


@settings(max_examples=300, deadline=None)
@given(keys)
def test_every_kind_of_key_reads_back_as_it_was_written(key: MessageKey) -> None:
    text = str(key)
    assert MessageKey.parse(text) == key
    assert str(MessageKey.parse(text)) == text
    # A scan for the keys of this kind (of the item) finds it.
    assert text.startswith(MessageKey.prefix(key.kind))
    if key.kind is not RowKind.BROADCAST:
        assert text.startswith(MessageKey.prefix(key.kind, key.item))


def test_every_row_kind_has_a_key() -> None:
    made = {
        MessageKey.broadcast("a").kind,
        MessageKey.followup(RowKind.EDIT, "a", "00").kind,
        MessageKey.followup(RowKind.NOTICE, "a", "00").kind,
        MessageKey.delete("a", 1).kind,
        MessageKey.reminder("a", timedelta(days=1), datetime(2027, 1, 1, tzinfo=UTC)).kind,
        MessageKey.moved("a", datetime(2027, 1, 1, tzinfo=UTC)).kind,
    }
    assert made == set(RowKind)


START = datetime(2027, 3, 6, 7, tzinfo=UTC)

# Strings as earlier versions wrote them into databases (no migration).
STORED = [
    ("item:strike-1", MessageKey(RowKind.BROADCAST, "strike-1")),
    ("edit:strike-1:9f86d081884c7d65", MessageKey(RowKind.EDIT, "strike-1", "9f86d081884c7d65")),
    (
        "notice:strike-1:9f86d081884c7d65",
        MessageKey(RowKind.NOTICE, "strike-1", "9f86d081884c7d65"),
    ),
    ("delete:strike-1:42", MessageKey(RowKind.DELETE, "strike-1", target=42)),
    (
        "reminder:picket:1d12h@20270306T070000Z",
        MessageKey(RowKind.REMINDER, "picket", offset=timedelta(hours=36), moment=START),
    ),
    ("changed:picket@20270306T070000Z", MessageKey(RowKind.MOVED, "picket", moment=START)),
]


@pytest.mark.parametrize(("text", "key"), STORED)
def test_keys_already_stored_read_as_before(text: str, key: MessageKey) -> None:
    assert MessageKey.parse(text) == key
    assert str(key) == text


def test_a_deletion_key_written_in_sql_is_the_key_type_s() -> None:
    # outbox_followups.py writes `prefix + <row id>` in one INSERT … SELECT.
    assert MessageKey.prefix(RowKind.DELETE, "a") + "42" == str(MessageKey.delete("a", 42))


def test_a_start_in_another_zone_is_keyed_in_utc() -> None:
    kyiv = START.astimezone(datetime.now(UTC).astimezone().tzinfo)
    assert str(MessageKey.moved("p", kyiv)) == f"changed:p@{stamp(START)}"


@pytest.mark.parametrize(
    "text",
    ["", "item", "item:", "bogus:a", "reminder:a:1d", "changed:a@2027", "delete:a:x", "edit:a"],
)
def test_a_string_no_version_wrote_is_refused(text: str) -> None:
    with pytest.raises(BadKey, match="not a message key"):
        MessageKey.parse(text)
