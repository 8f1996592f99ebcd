"""The supervisor: every background task of the bot, by name, and how each one ends.

In the spirit of mautrix-python's `Program.background_task`: the App starts
its long-running work here (the ticker, the watcher, the delivery loops, the
reminder checks) instead of calling `asyncio.create_task` itself, so that

- a task that fails is logged once, as `task failed task=NAME error=TYPE`
  with the stack trace, never as asyncio's "Task exception was never
  retrieved" long after the fact;
- a task that fails can give back what it held (`on_failure`, e.g. a delivery
  worker's outbox rows) and, when it is a service the bot cannot do without
  (`restart=True`), starts again after a pause that doubles up to a minute;
- stopping cancels the tasks in a defined order: the names asked for first,
  then every other task, latest started first (the reverse of start-up).

The log line carries the error's type and the stack, no message text: the
log formatter (bot.logs) decides what of a traceback is shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

TaskFactory = Callable[[], Awaitable[None]]
FailureHook = Callable[[BaseException], Awaitable[None]]

# A service that failed starts again after this pause, doubled after every
# failure up to RESTART_CAP; one that then ran for RESTART_CAP starts over.
RESTART_FIRST = 1.0
RESTART_CAP = 60.0


@dataclass(frozen=True)
class _Entry:
    name: str
    task: asyncio.Task[None]


class Supervisor:
    """Named background tasks: failures logged once, cancellation in order."""

    def __init__(self, *, restart_first: float = RESTART_FIRST) -> None:
        self.restart_first = restart_first
        self._entries: list[_Entry] = []
        self._stopping = False

    def start(
        self,
        name: str,
        factory: TaskFactory,
        *,
        restart: bool = False,
        on_failure: FailureHook | None = None,
    ) -> asyncio.Task[None]:
        """Run `factory()` as the task `name`. A failure is logged with its
        stack, then `on_failure(error)` runs; with `restart` the task starts
        again after a pause, otherwise it ends there."""
        if self._stopping:
            raise RuntimeError(f"supervisor is stopping: task {name} not started")
        task = asyncio.create_task(self._guard(name, factory, restart, on_failure), name=name)
        entry = _Entry(name, task)
        self._entries.append(entry)
        task.add_done_callback(lambda _task: self._forget(entry))
        return task

    def names(self) -> list[str]:
        """The tasks running now, in start order (for tests and /status)."""
        return [entry.name for entry in self._entries]

    async def _guard(
        self, name: str, factory: TaskFactory, restart: bool, on_failure: FailureHook | None
    ) -> None:
        loop = asyncio.get_running_loop()
        pause = self.restart_first
        while True:
            began = loop.time()
            try:
                await factory()
                return
            except Exception as exc:
                if loop.time() - began >= RESTART_CAP:
                    pause = self.restart_first  # it served a while: not the same failure
                log.error(
                    "task failed task=%s error=%s%s",
                    name,
                    type(exc).__name__,
                    f"; restarting in {pause:g}s" if restart else "",
                    exc_info=exc,
                )
                await self._after_failure(name, on_failure, exc)
            if not restart or self._stopping:
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, RESTART_CAP)

    @staticmethod
    async def _after_failure(name: str, on_failure: FailureHook | None, exc: Exception) -> None:
        if on_failure is None:
            return
        try:
            await on_failure(exc)
        except Exception as again:
            log.error(
                "task cleanup failed task=%s error=%s", name, type(again).__name__, exc_info=again
            )

    def _forget(self, entry: _Entry) -> None:
        with contextlib.suppress(ValueError):
            self._entries.remove(entry)

    async def cancel(self, *names: str) -> None:
        """Cancel the tasks of these names, in this order, each awaited."""
        for name in names:
            for entry in [e for e in self._entries if e.name == name]:
                self._forget(entry)
                await _cancel(entry.task)

    async def stop(self, *first: str) -> None:
        """Cancel the tasks named in `first` in that order, then every other,
        latest started first; start no more."""
        self._stopping = True
        await self.cancel(*first)
        while self._entries:
            await _cancel(self._entries.pop().task)


async def _cancel(task: asyncio.Task[None]) -> None:
    if task is asyncio.current_task():
        return  # a task stopping the bot does not cancel itself
    task.cancel()
    # The task's own failures were logged by its guard; its cancellation is ours.
    with contextlib.suppress(asyncio.CancelledError):
        await task
