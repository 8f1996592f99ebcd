"""Wiring: config, catalog, store, dispatcher, workers, adapters and watcher.

No globals: `App` builds every part from the config and passes them to each
other, so tests can build one with a fake clock or their own adapters. What
is registered with the core (row kinds, their composers, reload hooks) is
joined once in `_build_core` and checked there (bot/delivery/registry.py);
admin reports are bot/admins.py's, the periodic check bot/ticker.py's.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

from bot.adapters.base import Adapter, Incoming, Outgoing
from bot.adapters.configured import build_adapters
from bot.adapters.console import ConsoleAdapter
from bot.admins import AdminReports
from bot.chat import answers
from bot.chat.commands import Commands, menus
from bot.chat.desk import Desk
from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.content.catalog import Catalog, Changes
from bot.content.watcher import watch_updates
from bot.delivery.composers import ItemComposers
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.registry import Composers, ReloadHooks
from bot.delivery.worker import Action, Backoff, DeliveryWorker
from bot.i18n import Texts, spoken, texts
from bot.media.files import MediaFiles
from bot.pickets.scheduler import PicketScheduler
from bot.platforms import Platform
from bot.render.parts import part_limit
from bot.status import status_text
from bot.store import OutboxRow, PrefixedState, Store, open_store
from bot.store.database import sqlite_file
from bot.store.owner import DatabaseOwner
from bot.supervisor import Supervisor
from bot.ticker import Ticker, forget_old
from bot.web.metrics import Metrics
from bot.web.server import WebServer
from bot.web.site import Site, save_follow

log = logging.getLogger(__name__)

__all__ = ["App", "build_adapters"]


class App:
    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        adapters: list[Adapter] | None = None,
        backoff: Backoff | None = None,
        watch: bool = True,
        settle: float = 1.0,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self._given_adapters = adapters
        self.backoff = backoff
        self.watch = watch
        self.settle = settle
        limit = part_limit(config.broadcast.max_parts)
        files = MediaFiles(config.media_cache_path)  # stripped copies (docs/media.md)
        self.catalog = Catalog(config.updates_path, config.zone, config.language, limit, files)
        # One composer per kind of outbox row, and the reload hooks: built
        # once in start (bot/delivery/registry.py).
        self._composers: Composers | None = None
        self.reload_hooks: ReloadHooks = ()
        self.adapters: list[Adapter] = []
        self.workers: dict[str, DeliveryWorker] = {}
        self._stop = asyncio.Event()
        # Every background task (ticker, watcher, delivery loops, reminder checks).
        self.tasks = Supervisor()
        self._admins: AdminReports | None = None
        self._owner: DatabaseOwner | None = None
        self._ticker: Ticker | None = None
        self._reloading = asyncio.Lock()
        self._store: Store | None = None
        self._commands: Commands | None = None
        self._dispatcher: Dispatcher | None = None
        self.scheduler: PicketScheduler | None = None
        # Counted by the workers, read by /metrics; this App's own registry.
        self.metrics = Metrics()
        self.web: WebServer | None = None

    @property
    def store(self) -> Store:
        assert self._store is not None, "App.start() first"
        return self._store

    @property
    def commands(self) -> Commands:
        assert self._commands is not None, "App.start() first"
        return self._commands

    @property
    def dispatcher(self) -> Dispatcher:
        assert self._dispatcher is not None, "App.start() first"
        return self._dispatcher

    @property
    def composers(self) -> Composers:
        assert self._composers is not None, "App.start() first"
        return self._composers

    @property
    def admins(self) -> AdminReports:
        assert self._admins is not None, "App.start() first"
        return self._admins

    @property
    def console(self) -> ConsoleAdapter | None:
        return next((a for a in self.adapters if isinstance(a, ConsoleAdapter)), None)

    async def start(self) -> None:
        """Start in the order each part needs the ones before it."""
        await self._open_store()
        await self._load_catalog()
        platforms = await self._choose_adapters()
        await self._build_core(platforms)
        await self._build_workers()
        # Fan out what is due before taking commands, so a chat subscribing in
        # the first second does not race the start-up broadcast.
        await self.tick()
        await self._start_scheduler()
        await self._start_adapters(platforms)
        await self._start_web()
        self._start_background()
        await self.admins.problems()
        log.info(
            "started platforms=%s items=%d invalid=%d",
            ",".join(platforms),
            len(self.catalog.items),
            len(self.catalog.problems),
        )

    async def _open_store(self) -> None:
        """The database, owned by this process when it is a SQLite file."""
        url = self.config.database_url
        database_file = sqlite_file(url)
        if database_file is not None:
            self._owner = DatabaseOwner(database_file)
            self._owner.acquire()
        privacy = self.config.privacy
        self._store = await open_store(
            url, privacy.keyring, keep_inactive=privacy.keep_inactive_subscribers, progress=log.info
        )

    async def _load_catalog(self) -> None:
        """`updates/`, read in a worker thread like every reload."""
        self.catalog.swap(await asyncio.to_thread(self.catalog.scan))
        for problem in self.catalog.problems:
            log.warning("invalid update %s", problem.format())

    async def _choose_adapters(self) -> list[Platform]:
        """The adapters, and the audience they have: stored subscribers or,
        channel-only, the configured destinations. Returns the platforms."""
        self.adapters = self._given_adapters or build_adapters(
            self.config, self.store, menus(channel_only=not self.config.privacy.subscriptions)
        )
        self._admins = AdminReports(self.config, self.adapters, self.store, self.catalog)
        platforms = [a.platform for a in self.adapters]
        destinations: list[tuple[str, str, str | None]] = [
            (d.platform, d.chat, d.language)
            for d in self.config.destinations
            if d.platform in platforms
        ]
        if self.config.privacy.subscriptions:
            await self.store.sync_destinations(destinations, self.clock.now().timestamp())
        else:
            # Channel-only: broadcasts go to the configured destinations, and
            # no chat, not even a destination, is kept in the database.
            self.store.fix_audience(destinations)
            dropped = await self.store.drop_subscribers()
            if dropped:
                log.warning("channel-only: deleted %d stored subscriber(s)", dropped)
        await forget_old(self.store, self.config, self.clock)
        return platforms

    async def _build_core(self, platforms: list[Platform]) -> None:
        """The dispatcher, the scheduler (not started), every row kind's
        composer (a kind without one fails the start here), and the commands."""
        self._dispatcher = Dispatcher(
            self.store,
            platforms,
            self.config.broadcast.max_age,
            self.config.privacy.keep_delivery_records,
            self.config.language,
        )
        self.scheduler = PicketScheduler(
            self.catalog,
            self.store,
            self.dispatcher,
            self.clock,
            self.config.reminders.default,
            wake=self.wake_workers,
            tasks=self.tasks,
        )
        items = ItemComposers(self.catalog, self.store, self.clock)
        self._composers = Composers(items, self.scheduler)
        self.reload_hooks = (self.scheduler.on_reload,)
        keyring = self.config.privacy.keyring
        owner_key = (
            keyring.publishing
            if keyring is not None
            else bytes.fromhex(
                await self.store.state_setdefault("publishing:key", secrets.token_hex(32))
            )
        )
        self._commands = Commands(
            self.catalog,
            self.store,
            self.clock,
            default_lang=self.config.language,
            status=self.status,
            desk=Desk(
                config=self.config.publishing,
                platforms=platforms,
                dispatcher=self.dispatcher,
                reload=self.reload,
                tell_admins=self.admins.tell,
                key=owner_key,
                max_age=self.config.broadcast.max_age,
            ),
            follow=self.config.privacy.channel_only,
        )

    async def _build_workers(self) -> None:
        """One delivery worker per adapter (not claiming yet)."""
        single_process = self.config.database_url.startswith("sqlite")
        for adapter in self.adapters:
            if single_process:
                await self.store.release_leases(adapter.platform)
            self.workers[adapter.platform] = DeliveryWorker(
                self.store,
                adapter,
                self.compose,
                self.clock,
                backoff=self.backoff,
                lease=self.config.delivery.lease.total_seconds(),
                counts=self.metrics,
            )

    async def _start_scheduler(self) -> None:
        """Picket reminders: their jobs, and what is due now."""
        assert self.scheduler is not None
        await self.scheduler.start()

    async def _start_adapters(self, platforms: list[Platform]) -> None:
        """Adapters, then the workers: an adapter can send once it has
        started, so only then may a worker claim."""
        for adapter in self.adapters:
            await adapter.start(self.on_command, self.on_chat_gone)
        for worker in self.workers.values():
            worker.start(poll=0.5, tasks=self.tasks)
        self.metrics.know(platforms)

    def _start_background(self) -> None:
        """The periodic check (broadcasts, follow-ups, retention) and the watcher."""
        self._ticker = Ticker(self.tick, self.store, self.config, self.clock, self._stop)
        self.tasks.start("ticker", self._ticker.run, restart=True)
        if self.watch:
            self.tasks.start("watcher", self._watch, restart=True)

    async def _start_web(self) -> None:
        """The web face (bot/web) when the config has `web:`; the subscribe
        links are kept either way, for `strikewire site`."""
        channels = self.config.privacy.channel_only
        follow = await save_follow(PrefixedState(self.store, "web"), self.adapters, channels)
        web = self.config.web
        if web is None:
            return
        site = Site(self.catalog, self.config.language, web.public_url, follow)
        self.web = WebServer(
            web,
            site,
            store=self.store,
            catalog=self.catalog,
            adapters=self.adapters,
            clock=self.clock,
            metrics=self.metrics,
        )
        await self.web.start()

    async def on_command(self, msg: Incoming) -> list[Outgoing]:
        try:
            return await self.commands.handle(msg)
        except Exception as exc:
            log.exception("command failed platform=%s error=%s", msg.platform, type(exc).__name__)
            t = texts(spoken(msg.language) or self.config.language)
            return [Outgoing(answers.something_went_wrong(t))]

    async def on_chat_gone(self, platform: str, chat_id: str) -> None:
        await self.store.stop(platform, chat_id, error_kind="chat-gone")
        log.info("chat gone platform=%s; unsubscribed", platform)

    async def compose(self, row: OutboxRow) -> Action:
        return await self.composers.compose(row)

    async def tick(self) -> None:
        """Broadcast what became due and follow up what changed since it was
        sent; wake the workers if anything was written."""
        now = self.clock.now()
        written = await self.dispatcher.broadcast_due(self.catalog, now)
        written += (await self.dispatcher.followups_due(self.catalog, now)).rows
        if written:
            self.wake_workers()

    def wake_workers(self) -> None:
        for worker in self.workers.values():
            worker.wake()

    async def reload(self) -> Changes:
        """Read `updates/` again, broadcast what is new, report what is broken."""
        # The watcher and /publish both reload: one at a time, so each sees
        # the changes it caused.
        async with self._reloading:
            return await self._reload()

    async def _reload(self) -> Changes:
        changes = await self.catalog.reload_async()
        if (changes.changed or changes.withdrawn) and self._ticker is not None:
            self._ticker.changed()
        if changes:
            log.info(
                "reloaded added=%d changed=%d removed=%d",
                len(changes.added),
                len(changes.changed),
                len(changes.removed),
            )
        for hook in self.reload_hooks:
            await hook(changes)
        await self.tick()
        await self.admins.problems()
        await self.admins.too_old(changes)
        return changes

    async def _reload_quietly(self) -> None:
        await self.reload()

    async def _watch(self) -> None:
        await watch_updates(self.config.updates_path, self._reload_quietly, self._stop, self.settle)

    async def status(self, t: Texts | None = None) -> str:
        return await status_text(self.store, self.catalog, t or texts(self.config.language))

    async def drain(self, timeout: float = 60.0) -> bool:
        """Wait until nothing is due or in flight (or `timeout`); True if idle."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            idle = [await w.idle() for w in self.workers.values()]
            if all(idle):
                return True
            await asyncio.sleep(0.1)
        return False

    async def stop(self) -> None:
        """Stop receiving, let in-flight sends finish, record every outcome,
        give back what was not sent, then close the store."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.wake()
        if self.web is not None:
            await self.web.stop()
        await self._each_adapter(lambda adapter: adapter.stop_receiving())
        if self.scheduler is not None:
            await self.scheduler.stop()
        # What makes new rows stops first; the delivery loops then finish
        # their sends and give back the rest; whatever is left goes last.
        await self.tasks.cancel("watcher", "ticker", "reminders")
        grace = self.config.delivery.stop_grace.total_seconds()
        await asyncio.gather(*(worker.stop(grace) for worker in self.workers.values()))
        await self.tasks.stop()
        await self._each_adapter(lambda adapter: adapter.stop())
        opened = self._store is not None
        if self._store is not None:
            await self._store.close()
        if self._owner is not None:
            self._owner.release()
        if opened:  # a start refused before the database opened said why already
            log.info("stopped")

    async def _each_adapter(self, step: Callable[[Adapter], Awaitable[None]]) -> None:
        """Run one stop step on every adapter; one that fails does not stop the others."""
        for adapter in self.adapters:
            try:
                await step(adapter)
            except Exception as exc:
                log.warning(
                    "adapter stop failed platform=%s error=%s", adapter.platform, type(exc).__name__
                )
