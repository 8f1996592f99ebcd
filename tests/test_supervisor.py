"""The supervisor: a background task's failure is one log line with its stack,
a service starts again, and stopping cancels in a defined order."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.supervisor import Supervisor


async def test_a_failing_task_is_logged_once_with_its_stack(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = Supervisor()
    given_back: list[BaseException] = []

    async def broken() -> None:
        raise ValueError("secret chat 12345")

    async def give_back(exc: BaseException) -> None:
        given_back.append(exc)

    caplog.set_level(logging.INFO)
    task = tasks.start("watcher", broken, on_failure=give_back)
    await asyncio.wait_for(task, 5)
    assert task.exception() is None  # nothing left for asyncio to complain about
    failures = [r for r in caplog.records if r.name == "bot.supervisor"]
    assert [r.getMessage() for r in failures] == ["task failed task=watcher error=ValueError"]
    assert failures[0].levelno == logging.ERROR
    assert failures[0].exc_info is not None and failures[0].exc_info[0] is ValueError
    assert [type(e) for e in given_back] == [ValueError]
    assert tasks.names() == []


async def test_a_service_starts_again_after_failing(caplog: pytest.LogCaptureFixture) -> None:
    tasks = Supervisor(restart_first=0.01)
    runs = 0
    serving = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError("boom")
        serving.set()
        await asyncio.Event().wait()

    tasks.start("ticker", flaky, restart=True)
    await asyncio.wait_for(serving.wait(), 5)
    assert runs == 3
    assert tasks.names() == ["ticker"]
    await tasks.stop()
    assert tasks.names() == []
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.supervisor"]
    assert lines == [
        "task failed task=ticker error=RuntimeError; restarting in 0.01s",
        "task failed task=ticker error=RuntimeError; restarting in 0.02s",
    ]


async def test_stop_cancels_the_named_first_then_the_latest_started() -> None:
    tasks = Supervisor()
    ended: list[str] = []

    def forever(name: str) -> object:
        async def run() -> None:
            try:
                await asyncio.Event().wait()
            finally:
                ended.append(name)

        return run

    for name in ("delivery", "ticker", "watcher", "web"):
        tasks.start(name, forever(name))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    await tasks.stop("ticker")
    assert ended == ["ticker", "web", "watcher", "delivery"]
    with pytest.raises(RuntimeError, match="stopping"):
        tasks.start("late", forever("late"))  # type: ignore[arg-type]
