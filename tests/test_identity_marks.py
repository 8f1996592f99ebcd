"""Identity columns are declared once, in the schema, and everything that must
protect or delete them takes its list from the marks: a column that looks
like an identity has a mark, and every marked column is sealed, re-sealed,
scrubbed, forgotten and purged when old (bot/privacy/marks.py)."""

from __future__ import annotations

import ast
import operator
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, delete, func, select

from bot.clock import FakeClock
from bot.privacy.identities import Identities
from bot.privacy.marks import (
    IDENTITY,
    Holds,
    Keeping,
    Protection,
    marked_columns,
    problems,
)
from bot.store import Draft, DraftAction, Store, open_store
from bot.store.database import make_engine
from bot.store.forgetting import chat_tables, forget_statements
from bot.store.retention import kept_tables
from bot.store.schema import CHAT_BOX, CHAT_INDEX, drafts, metadata, outbox, subscribers
from bot.store.sealing import IDENTITY_TABLES, covered_columns, reseal, scrubbed
from bot.ticker import forget_old
from tests.conftest import make_config
from tests.test_privacy import keyring, leaks, sqlite_bytes

NOW = 1_750_000_000.0
TABLES = list(metadata.tables.values())
BOT = Path(__file__).resolve().parent.parent / "bot"
# Names that suggest a chat, a person or a message: such a column carries a
# mark, an `Identity` or a `NotIdentity` saying why it is none.
LOOKS_LIKE_AN_IDENTITY = re.compile(
    r"chat|user|room|target|sender|recipient|member|subscriber|owner|approver|author|admin"
    r"|phone|account|message_id|_by$"
)


def unmarked(tables: list[Table]) -> list[str]:
    return [
        f"{table.name}.{column.name}"
        for table in tables
        for column in table.columns
        if LOOKS_LIKE_AN_IDENTITY.search(column.name) and IDENTITY not in column.info
    ]


def holding(holds: set[Holds] | None = None) -> set[Table]:
    return {
        table
        for table in TABLES
        if any(holds is None or mark.holds in holds for _, mark in marked_columns(table))
    }


def tips_table(extra: MetaData) -> Table:
    """A table a new capability might add: chat-derived, marked."""
    return Table(
        "tips",
        extra,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("platform", String(16), nullable=False),
        Column("chat_id", String(255), nullable=False, info=CHAT_INDEX),
        Column("chat_box", Text, nullable=True, info=CHAT_BOX),
        Column("created_at", Float, nullable=True),
        info=Keeping(rows="tips", purge="purge_tips", kept="privacy.keep_tips").info(),
    )


def test_every_column_that_looks_like_an_identity_is_marked() -> None:
    assert unmarked(TABLES) == []
    looked_at = {
        f"{t.name}.{c.name}"
        for t in TABLES
        for c in t.columns
        if LOOKS_LIKE_AN_IDENTITY.search(c.name)
    }
    assert {
        "subscribers.chat_id",
        "outbox.chat_box",
        "outbox.message_ids",
        "outbox.target_id",
        "drafts.owner",
        "drafts.approvers",
    } <= looked_at
    # A new table's unmarked chat column is caught.
    extra = MetaData()
    Table("tips", extra, Column("id", Integer, primary_key=True), Column("sender", String(64)))
    assert unmarked(list(extra.tables.values())) == ["tips.sender"]


def test_every_marked_table_can_be_covered() -> None:
    assert {t.name: problems(t) for t in TABLES} == {t.name: [] for t in TABLES}
    assert {t.name for t in holding()} == {"subscribers", "outbox", "drafts"}
    # What a new table forgets to declare is named.
    extra = MetaData()
    half = Table(
        "tips",
        extra,
        Column("id", Integer, primary_key=True),
        Column("chat_id", String(255), info=CHAT_INDEX),
    )
    assert problems(half) == [
        "tips: holds identities but has no Keeping (how its rows leave)",
        "tips: a chat's index and its sealed twin come together",
        "tips: a chat needs the `platform` column beside it",
    ]


def test_a_key_change_and_the_scrub_cover_every_marked_column() -> None:
    sealed = {
        column
        for table in TABLES
        for column, mark in marked_columns(table)
        if mark.protection is not Protection.PLAIN
    }
    assert set(covered_columns(IDENTITY_TABLES)) == sealed
    assert set(IDENTITY_TABLES) == holding()
    assert set(scrubbed(IDENTITY_TABLES)) >= holding()


def test_forget_covers_every_table_holding_chats() -> None:
    assert set(chat_tables(TABLES)) == holding({Holds.CHAT}) == {subscribers, outbox}


def _called_outside_the_store() -> set[str]:
    names = set()
    for path in BOT.rglob("*.py"):
        if BOT / "store" in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                names.add(node.func.attr)
    return names


def test_retention_covers_every_table_holding_identities(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    assert {table for table, _ in kept_tables()} >= holding()
    for _, kept in kept_tables():
        assert callable(getattr(Store, kept.purge)), kept
        assert isinstance(operator.attrgetter(kept.kept)(config), timedelta), kept
    # Nobody runs a table's purge by hand: the ticker runs them all at once,
    # from the marks.
    called = _called_outside_the_store()
    assert "purge_old" in called
    assert {kept.purge for _, kept in kept_tables()} & called == set()


async def _row_counts(store: Store) -> dict[str, int]:
    async with store.engine.connect() as conn:
        return {
            table.name: int(await conn.scalar(select(func.count()).select_from(table)) or 0)
            for table in (subscribers, outbox, drafts)
        }


async def test_the_periodic_check_forgets_what_each_mark_keeps_no_longer(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, privacy={"keep_inactive_subscribers": "7d"})
    store = await open_store(
        config.database_url, keep_inactive=config.privacy.keep_inactive_subscribers
    )
    try:
        await store.subscribe("telegram", "42", None, NOW)
        await store.subscribe("telegram", "43", None, NOW)
        await store.enqueue("item:a", "a", "", [], ["telegram"], NOW)
        rows = await store.claim("telegram", NOW, 10, 60)
        await store.mark_sent([(row.id, "m1") for row in rows], NOW)
        await store.stop("telegram", "43", now=NOW)
        draft = Draft("d1", DraftAction.POST, None, "t", "text", "h", (), NOW, NOW + 86400)
        await store.add_draft(draft)
        clock = FakeClock(datetime.fromtimestamp(NOW, UTC))
        seen = []
        # Drafts expire after a day, a stopped chat goes after 7 (as set), a
        # delivery record after 30 (privacy.keep_delivery_records).
        for days in (1 - 1e-5, 1, 7, 30, 30 + 1e-5):
            clock.set(datetime.fromtimestamp(NOW + days * 86400, UTC))
            await forget_old(store, config, clock)
            seen.append(await _row_counts(store))
        assert seen == [
            {"subscribers": 2, "outbox": 2, "drafts": 1},
            {"subscribers": 2, "outbox": 2, "drafts": 0},
            {"subscribers": 1, "outbox": 2, "drafts": 0},
            {"subscribers": 1, "outbox": 2, "drafts": 0},
            {"subscribers": 1, "outbox": 0, "drafts": 0},
        ]
    finally:
        await store.close()


async def test_a_new_marked_table_is_purged_when_old_without_a_new_call(
    tmp_path: Path,
) -> None:
    tips = tips_table(MetaData())

    class WithTips(Store):
        """What a capability adding `tips` writes: its purge, and no call."""

        async def purge_tips(self, now: float, kept: float) -> int:
            async with self.engine.begin() as conn:
                gone = await conn.execute(delete(tips).where(tips.c.created_at <= now - kept))
                return gone.rowcount

    url = f"sqlite:///{tmp_path / 'strikewire.db'}"
    await (await open_store(url)).close()
    store = WithTips(make_engine(url))
    config = make_config(tmp_path)

    def setting(name: str) -> timedelta:
        if name == "privacy.keep_tips":
            return timedelta(days=7)
        return operator.attrgetter(name)(config)  # type: ignore[no-any-return]

    try:
        async with store.engine.begin() as conn:
            await conn.run_sync(tips.metadata.create_all)
            await conn.execute(
                tips.insert(),
                [
                    {"platform": "telegram", "chat_id": "5550001", "created_at": NOW - 8 * 86400},
                    {"platform": "telegram", "chat_id": "5550002", "created_at": NOW - 6 * 86400},
                ],
            )
        deleted = await store.purge_old(NOW, setting, [*TABLES, tips])
        assert deleted == {"subscribers": 0, "outbox": 0, "drafts": 0, "tips": 1}
        async with store.engine.connect() as conn:
            assert (await conn.scalars(select(tips.c.chat_id))).all() == ["5550002"]
    finally:
        await store.close()


async def test_old_delivery_records_are_forgotten(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'strikewire.db'}")
    try:
        await store.subscribe("telegram", "42", None, NOW)
        await store.subscribe("telegram", "43", None, NOW)
        await store.enqueue("item:a", "a", "", [], ["telegram"], NOW)
        rows = await store.claim("telegram", NOW, 10, 60)
        await store.mark_sent([(rows[0].id, "m1")], NOW)
        assert await store.purge_done(NOW) == 0
        assert await store.purge_done(NOW + 1) == 1
        async with store.engine.connect() as conn:
            left = (await conn.execute(select(outbox.c.state))).scalars().all()
        assert left == ["sending"]  # a record still under way is kept
    finally:
        await store.close()


async def test_rows_dropped_when_a_chat_stops_are_forgotten_in_time(tmp_path: Path) -> None:
    """A chat that stops (or is gone) has its queued rows failed; retention
    must forget them like any finished row, or they keep the chat's index."""
    store = await open_store(f"sqlite:///{tmp_path / 'strikewire.db'}")
    try:
        await store.subscribe("telegram", "42", None, NOW)
        await store.enqueue("item:a", "a", "", [], ["telegram"], NOW)
        await store.stop("telegram", "42", now=NOW)
        assert await store.purge_done(NOW) == 0
        assert await store.purge_done(NOW + 1) == 1
        async with store.engine.connect() as conn:
            assert (await conn.execute(select(outbox.c.id))).all() == []
    finally:
        await store.close()


async def test_a_new_marked_table_is_sealed_rotated_scrubbed_and_forgotten(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'strikewire.db'}"
    store = await open_store(url)
    await store.subscribe("telegram", "7123456789", None, NOW)
    await store.close()
    extra = MetaData()
    tips = tips_table(extra)
    tables = [*IDENTITY_TABLES, tips]
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(extra.create_all)
            await conn.execute(
                tips.insert(),
                [{"platform": "telegram", "chat_id": c} for c in ("7123456789", "5550001")],
            )
        first, second = keyring(), keyring()
        lines: list[str] = []
        done = await reseal(engine, None, first, lines.append, tables=tables)
        assert done is not None and done.sealed == {"subscribers": 1, "outbox": 0, "tips": 2}
        assert "privacy: tips 2/2" in lines
        assert leaks(sqlite_bytes(url), "7123456789") == []
        assert leaks(sqlite_bytes(url), "5550001") == []
        assert await reseal(engine, first, second, lines.append, tables=tables) is not None
        ids = Identities(second)
        async with engine.connect() as conn:
            rows = (await conn.execute(select(tips))).all()
        assert all(row.chat_id.startswith("i") for row in rows)
        assert sorted(ids.chat(r.platform, r.chat_id, r.chat_box) for r in rows) == [
            "5550001",
            "7123456789",
        ]
        assert tips in scrubbed(tables)
        async with engine.begin() as conn:
            for statement in forget_statements(ids, "telegram", "7123456789", [*TABLES, tips]):
                await conn.execute(statement)
            counts = [
                await conn.scalar(select(func.count()).select_from(t)) for t in (tips, subscribers)
            ]
        assert counts == [1, 0]
    finally:
        await engine.dispose()
