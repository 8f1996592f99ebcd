"""The delivery worker keeps working through a bug: a composer that raises,
a loop step that raises, a database that is away."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot.app import App
from bot.delivery.worker import Action, Backoff, Composer
from bot.store import OutboxRow, RowKind, open_store
from tests.conftest import make_config, write_update
from tests.recording import RecordingAdapter

TODAY = time.strftime("%Y-%m-%d", time.gmtime())
CHATS = [str(n) for n in range(5)]


async def subscribe(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'bot.db'}")
    for chat in CHATS:
        await store.subscribe("telegram", chat, None, time.time())
    await store.close()


def news(tmp_path: Path) -> None:
    write_update(
        tmp_path / "updates",
        "strike.md",
        f"kind: news\ntitle: Strike news\ndate: {TODAY}",
        "The strike goes on.",
    )


def failing_for(chat: str, composer: Composer) -> Composer:
    async def compose(row: OutboxRow) -> Action:
        if row.chat_id == chat:
            raise RuntimeError("a bug in a composer")
        return await composer(row)

    return compose


def delivery_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith(("bot.delivery", "bot.supervisor"))
    ]


async def test_a_composer_that_raises_for_one_chat_spares_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await subscribe(tmp_path)
    tg = RecordingAdapter()
    backoff = Backoff(first=0.05, jitter=0.0, max_attempts=2)
    app = App(make_config(tmp_path), adapters=[tg], watch=False, backoff=backoff)
    caplog.set_level(logging.INFO)
    await app.start()
    try:
        composers = app.composers
        composers[RowKind.BROADCAST] = failing_for("2", composers[RowKind.BROADCAST])
        news(tmp_path)
        await app.reload()
        # The old worker's chat task died with its row held and renewed:
        # idle never came.
        assert await app.drain(timeout=10)
        assert sorted(chat for chat, _ in tg.sent) == ["0", "1", "3", "4"]
        counts = await app.store.queue_counts()
        assert counts[("telegram", "sent")] == 4
        assert counts[("telegram", "failed")] == 1  # after max_attempts, not for ever
    finally:
        await app.stop()
    errors = delivery_errors(caplog)
    # One line per attempt, each with the error's type and its stack, no chat.
    assert len(errors) == 2, [r.getMessage() for r in errors]
    for record in errors:
        assert record.getMessage() == (
            "delivery compose crashed platform=telegram kind=broadcast item=strike "
            "error=RuntimeError; retrying later"
        )
        assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert not any("never retrieved" in r.getMessage() for r in caplog.records)


async def test_the_loop_tells_a_database_outage_from_a_bug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await subscribe(tmp_path)
    tg = RecordingAdapter()
    app = App(make_config(tmp_path), adapters=[tg], watch=False)
    caplog.set_level(logging.INFO)
    await app.start()
    try:
        claim = app.store.claim
        calls = 0

        async def buggy_claim(*args: object, **kwargs: object) -> list[OutboxRow]:
            nonlocal calls
            calls += 1
            if calls == 1:  # the database is away: a warning, retried
                raise OperationalError("SELECT", {}, Exception("database is locked"))
            if calls <= 3:  # a bug: loud, with its stack, and delivery goes on
                raise KeyError("a bug in the claim")
            return await claim(*args, **kwargs)  # type: ignore[arg-type]

        app.store.claim = buggy_claim  # type: ignore[method-assign]
        news(tmp_path)
        await app.reload()
        await tg.wait_for(lambda: len(tg.sent) >= len(CHATS))
        assert await app.drain(timeout=10)
    finally:
        await app.stop()
    assert sorted(chat for chat, _ in tg.sent) == CHATS
    away = [r.getMessage() for r in caplog.records if "store unavailable" in r.getMessage()]
    assert away == ["delivery store unavailable platform=telegram error=OperationalError; retrying"]
    errors = delivery_errors(caplog)
    assert [r.getMessage() for r in errors] == [
        "delivery loop failed platform=telegram error=KeyError"
    ] * 2
    assert all(r.exc_info is not None and r.exc_info[0] is KeyError for r in errors)
