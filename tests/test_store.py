"""The store's contract, run against SQLite and a real PostgreSQL server alike."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.store import DatabaseError, Store, open_store

NOW = 1_800_000_000.0


async def test_subscribe_everything_then_campaigns(store: Store) -> None:
    assert await store.subscribe("telegram", "1", None, NOW) is True
    sub = await store.subscription("telegram", "1")
    assert sub is not None and sub.active and sub.everything
    assert await store.subscribe("telegram", "1", None, NOW) is False
    await store.stop("telegram", "1")
    assert await store.subscribe("telegram", "1", ["metallist"], NOW) is True
    sub = await store.subscription("telegram", "1")
    assert sub is not None and not sub.everything and sub.campaigns == {"metallist"}
    await store.unsubscribe("telegram", "1", ["metallist"])
    # Subscribed to nothing: forgotten at once (keep_inactive_subscribers 0).
    assert await store.subscription("telegram", "1") is None


async def test_enqueue_matches_campaigns_and_platforms(store: Store) -> None:
    await store.subscribe("telegram", "all", None, NOW)
    await store.subscribe("telegram", "miners", ["miners"], NOW)
    await store.subscribe("telegram", "metal", ["metallist"], NOW)
    await store.subscribe("matrix", "!room", None, NOW)
    await store.subscribe("telegram", "stopped", None, NOW)
    await store.stop("telegram", "stopped")
    count = await store.enqueue("item:a", "a", "", ["metallist"], ["telegram"], NOW)
    assert count == 2
    rows = await store.claim("telegram", NOW, 10, 60)
    assert sorted(r.chat_id for r in rows) == ["all", "metal"]
    # An item without campaigns goes to every active subscriber.
    assert await store.enqueue("item:b", "b", "", [], ["telegram", "matrix"], NOW) == 4


async def test_enqueue_twice_writes_once(store: Store) -> None:
    for n in range(5):
        await store.subscribe("telegram", str(n), None, NOW)
    assert await store.enqueue("item:a", "a", "", [], ["telegram"], NOW) == 5
    assert await store.enqueue("item:a", "a", "", [], ["telegram"], NOW) is None
    assert await store.was_broadcast("item:a")
    assert await store.pending() == 5


async def test_concurrent_enqueue_from_two_connections_writes_once(database_url: str) -> None:
    first, second = await open_store(database_url), await open_store(database_url)
    try:
        for n in range(200):
            await first.subscribe("telegram", str(n), None, NOW)
        results = await asyncio.gather(
            first.enqueue("item:a", "a", "", [], ["telegram"], NOW),
            second.enqueue("item:a", "a", "", [], ["telegram"], NOW),
        )
        assert sorted(results, key=lambda r: r or 0) == [None, 200]
        assert await first.pending() == 200
    finally:
        await first.close()
        await second.close()


async def test_two_claimers_never_share_a_row(database_url: str) -> None:
    first, second = await open_store(database_url), await open_store(database_url)
    try:
        for n in range(300):
            await first.subscribe("telegram", str(n), None, NOW)
        await first.enqueue("item:a", "a", "", [], ["telegram"], NOW)
        claimed: list[int] = []
        for _ in range(10):
            a, b = await asyncio.gather(
                first.claim("telegram", NOW, 40, 60), second.claim("telegram", NOW, 40, 60)
            )
            claimed += [r.id for r in a] + [r.id for r in b]
        assert len(claimed) == 300
        assert len(set(claimed)) == 300
    finally:
        await first.close()
        await second.close()


async def test_lease_expiry_returns_rows_after_a_crash(store: Store) -> None:
    await store.subscribe("telegram", "1", None, NOW)
    await store.enqueue("item:a", "a", "", [], ["telegram"], NOW)
    assert len(await store.claim("telegram", NOW, 10, lease=60)) == 1
    # The claimer died: nothing is due until the lease runs out...
    assert await store.claim("telegram", NOW + 30, 10, lease=60) == []
    # ...then the row comes back, once.
    again = await store.claim("telegram", NOW + 61, 10, lease=60)
    assert [r.chat_id for r in again] == ["1"]


async def test_marks_and_counts(store: Store) -> None:
    for n in range(3):
        await store.subscribe("telegram", str(n), None, NOW)
    await store.enqueue("item:a", "a", "", [], ["telegram"], NOW)
    rows = await store.claim("telegram", NOW, 10, 60)
    await store.mark_sent([(rows[0].id, "m1")], NOW)
    await store.mark_retry([(rows[1].id, NOW + 100, "transient")])
    await store.mark_failed([(rows[2].id, "rejected")], NOW)
    counts = await store.queue_counts()
    assert counts == {("telegram", "sent"): 1, ("telegram", "queued"): 1, ("telegram", "failed"): 1}
    assert await store.claim("telegram", NOW + 50, 10, 60) == []
    assert len(await store.claim("telegram", NOW + 100, 10, 60)) == 1
    errors = await store.recent_errors()
    assert errors == [("telegram", "a", "rejected", NOW)]


async def test_forget_deletes_everything_about_a_chat(store: Store) -> None:
    await store.subscribe("telegram", "42", ["metallist"], NOW)
    await store.enqueue("item:a", "a", "", [], ["telegram"], NOW)
    await store.forget("telegram", "42")
    assert await store.subscription("telegram", "42") is None
    async with store.engine.connect() as conn:
        for table in ("subscribers", "subscriptions", "outbox"):
            assert await conn.scalar(text(f"select count(*) from {table}")) == 0


async def test_move_chat_carries_subscription_and_queue(store: Store) -> None:
    await store.subscribe("telegram", "-100", ["miners"], NOW)
    await store.enqueue("item:a", "a", "", [], ["telegram"], NOW)
    await store.claim("telegram", NOW, 10, 60)
    await store.move_chat("telegram", "-100", "-1001")
    sub = await store.subscription("telegram", "-1001")
    assert sub is not None and sub.campaigns == {"miners"}
    assert await store.subscription("telegram", "-100") is None
    rows = await store.claim("telegram", NOW, 10, 60)
    assert [r.chat_id for r in rows] == ["-1001"]


async def test_destinations_are_synced(store: Store) -> None:
    await store.sync_destinations([("telegram", "@news", None), ("matrix", "!a:x", "ru")], NOW)
    assert await store.subscriber_counts() == {"telegram": 1, "matrix": 1}
    await store.sync_destinations([("telegram", "@news", None)], NOW)
    assert await store.subscriber_counts() == {"telegram": 1}


async def test_adapter_state_survives_reopen(database_url: str) -> None:
    first = await open_store(database_url)
    await first.set_state("matrix:since", "s1")
    await first.set_state("matrix:since", "s2")
    await first.close()
    again = await open_store(database_url)
    try:
        assert await again.get_state("matrix:since") == "s2"
        assert await again.get_state("nothing") is None
    finally:
        await again.close()


async def test_database_newer_than_the_code_is_refused(database_url: str) -> None:
    opened = await open_store(database_url)
    async with opened.engine.begin() as conn:
        await conn.execute(text("update alembic_version set version_num = '9999'"))
    await opened.close()
    with pytest.raises(DatabaseError, match="newer than this strikewire knows"):
        await open_store(database_url)


async def test_migrations_match_the_schema(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from bot.store.schema import metadata

    opened = await open_store(database_url)
    try:
        async with opened.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata)
            )
        assert diff == []
    finally:
        await opened.close()


async def test_an_upgraded_database_keeps_its_queue_and_its_records(database_url: str) -> None:
    """A database last used by the release before migration 0007 (which
    rebuilt the outbox's unique key and indexes) goes on as it stopped: the
    queued row goes out, the sent one is not sent again, corrections find it."""
    from alembic import command

    from bot.store.database import _alembic_config, make_engine

    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), "0006"))
        await conn.execute(
            text(
                "INSERT INTO outbox (message_key, item_id, variant, kind, platform, chat_id,"
                " state, attempts, due_at, created_at, message_ids, revision) VALUES"
                " ('item:a', 'a', '', 'broadcast', 'telegram', '1', 'sent', 1, :t, :t, '7', 'r'),"
                " ('item:a', 'a', '', 'broadcast', 'telegram', '2', 'queued', 0, :t, :t,"
                " NULL, NULL)"
            ),
            {"t": NOW},
        )
    await engine.dispose()

    upgraded = await open_store(database_url)
    try:
        for chat in ("1", "2", "3"):
            await upgraded.subscribe("telegram", chat, None, NOW)
        # The key already has rows: only the chat without one gets a row.
        assert await upgraded.enqueue("item:a", "a", "", [], ["telegram"], NOW) == 1
        claimed = await upgraded.claim("telegram", NOW, 10, 60)
        assert sorted(r.chat_id for r in claimed) == ["2", "3"]
        assert await upgraded.pending() == 2
        await upgraded.mark_sent([(r.id, "8") for r in claimed], NOW)
        assert await upgraded.pending() == 0
        assert not await upgraded.has_work("telegram", NOW)
        assert await upgraded.has_rows("a", "item:a")
        assert await upgraded.sent_chats("a") == 3
    finally:
        await upgraded.close()


async def test_a_connection_given_back_mid_transaction_keeps_nothing_and_locks_nothing(
    tmp_path: Path,
) -> None:
    # SQLite's pool rolls back only where a transaction is open: a write left
    # uncommitted must neither stick nor keep the database locked for others.
    url = f"sqlite:///{tmp_path / 'strikewire.db'}"
    first, second = await open_store(url), await open_store(url)
    try:
        await first.subscribe("telegram", "1", None, NOW)
        async with first.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.execute("DELETE FROM subscriptions")
        await asyncio.wait_for(second.subscribe("telegram", "2", None, NOW), 2.0)
        assert await second.subscription("telegram", "1") is not None
        assert await first.subscription("telegram", "2") is not None
    finally:
        await first.close()
        await second.close()
