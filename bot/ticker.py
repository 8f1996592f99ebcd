"""The periodic check: what became due (broadcasts, follow-ups) and retention
(expired drafts too), every `broadcast.check_every`; for a minute after a file
changed, every 2 seconds, so a row that was in flight with the old text when
the file changed is edited as soon as its send is recorded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from operator import attrgetter

from bot.clock import Clock
from bot.config import Config
from bot.store import Store

# The lines were the App's before they moved here: operators filter on its name.
log = logging.getLogger("bot.app")

# After a file changed, follow-ups are looked for this often, for this long.
FOLLOW_UP_EVERY = 2.0
FOLLOW_UP_FOR = 60.0


async def forget_old(store: Store, config: Config, clock: Clock) -> None:
    """Retention: every table the schema marks with a `Keeping` loses its rows
    older than the setting the mark names (bot/store/retention.py): delivery
    records, stopped chats and expired drafts."""
    await store.purge_old(clock.now().timestamp(), lambda kept: attrgetter(kept)(config))


class Ticker:
    """Runs `tick` and the clean-ups until `stopped` is set."""

    def __init__(
        self,
        tick: Callable[[], Awaitable[None]],
        store: Store,
        config: Config,
        clock: Clock,
        stopped: asyncio.Event,
    ) -> None:
        self._tick = tick
        self.store = store
        self.config = config
        self.clock = clock
        self._stopped = stopped
        self._changed_until = 0.0
        self._poke = asyncio.Event()  # stopping, or a file changed

    def changed(self) -> None:
        """A sent file changed: look often for a while."""
        self._changed_until = asyncio.get_running_loop().time() + FOLLOW_UP_FOR
        self._poke.set()

    def wake(self) -> None:
        """Look at `stopped` (and the timeout) again now."""
        self._poke.set()

    async def run(self) -> None:
        every = self.config.broadcast.check_every.total_seconds()
        loop = asyncio.get_running_loop()
        while not self._stopped.is_set():
            soon = loop.time() < self._changed_until
            self._poke.clear()
            try:
                await asyncio.wait_for(
                    self._poke.wait(), timeout=min(every, FOLLOW_UP_EVERY) if soon else every
                )
                continue  # stopping, or a change: wait again with the right timeout
            except TimeoutError:
                pass
            if self._stopped.is_set():
                return
            try:
                await self._tick()
                await forget_old(self.store, self.config, self.clock)
            except Exception:
                log.exception("periodic check failed")
