"""The picket scheduler: APScheduler decides when to look, the database what was sent.

One `AsyncIOScheduler` per App, in memory (no job store): at start and after
every catalog reload its jobs are rebuilt from the catalog's pickets, one per
reminder still ahead (job id = the reminder's message key). Every job, the
start and every reload call the same idempotent `run_due`, which asks
`bot.pickets.reminders.due` with the App's clock and the keys already fanned out; so a
restart, a missed job or two processes never send a reminder twice, and a
reminder missed while the bot was down goes out late on the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.adapters.base import Outgoing
from bot.clock import Clock
from bot.content.catalog import Catalog, Changes
from bot.content.items import Item, Kind
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.worker import Action, Composer, Send, Unsendable
from bot.i18n import Texts
from bot.keys import MessageKey, RowKind, Variant
from bot.pickets import reminders
from bot.render.compose import as_read
from bot.store import OutboxRow, Store
from bot.supervisor import Supervisor

log = logging.getLogger(__name__)

SEEN_PREFIX = "reminders:seen:"


class PicketScheduler:
    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        dispatcher: Dispatcher,
        clock: Clock,
        default_offsets: Sequence[timedelta],
        *,
        wake: Callable[[], None] = lambda: None,
        tasks: Supervisor | None = None,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.dispatcher = dispatcher
        self.clock = clock
        self.default_offsets = list(default_offsets)
        self.wake = wake
        self.tasks = tasks or Supervisor()
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        # start key → when this process's database first saw that picket start.
        self._seen: dict[str, datetime] = {}
        self._lock = asyncio.Lock()

    def composers(self) -> dict[RowKind, Composer]:
        """The row kinds composed here (bot/delivery/registry.py joins them);
        `on_reload` is the App's reload hook."""
        return {RowKind.REMINDER: self.compose_reminder, RowKind.MOVED: self.compose_changed}

    async def start(self) -> None:
        self._scheduler.start()
        await self.rebuild()

    async def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
            # The asyncio scheduler shuts down on the loop's next turn.
            await asyncio.sleep(0)

    def jobs(self) -> dict[str, datetime]:
        """Job id → next run time (UTC), for /status and tests."""
        return {
            job.id: job.next_run_time.astimezone(UTC)
            for job in self._scheduler.get_jobs()
            if job.next_run_time is not None
        }

    async def on_reload(self, changes: Changes) -> None:
        if not changes:
            return
        try:
            await self.rebuild()
        except Exception:
            # The reload's broadcasts and problem reports must still happen.
            log.exception("scheduler rebuild failed")

    def _pickets(self) -> list[Item]:
        return [i for i in self.catalog.of_kind(Kind.PICKET) if i.starts is not None]

    async def rebuild(self) -> None:
        """Jobs from the catalog, date-changed notices, then whatever is due now."""
        now = self.clock.now()
        planned = reminders.plan(self._pickets(), self.default_offsets)
        wanted = reminders.upcoming_jobs(planned, now)
        for job_id in {job.id for job in self._scheduler.get_jobs()} - set(wanted):
            self._scheduler.remove_job(job_id)
        for job_id, moment in wanted.items():
            self._scheduler.add_job(
                self._fire, DateTrigger(run_date=moment), id=job_id, replace_existing=True
            )
        log.info("scheduler rebuilt pickets=%d jobs=%d", len(self._pickets()), len(wanted))
        await self._notify_moved(now)
        await self.run_due()

    async def _fire(self) -> None:
        # Run as a supervised task, not APScheduler's: its failure is logged
        # like every other, and stopping the bot cancels it.
        self.tasks.start("reminders", self._check)

    async def _check(self) -> None:
        await self.run_due()

    async def _note_seen(self, items: Sequence[Item], now: datetime) -> None:
        for item in items:
            assert item.starts is not None
            key = reminders.start_key(item.id, item.starts)
            if key in self._seen:
                continue
            stored = await self.store.state_setdefault(SEEN_PREFIX + key, now.isoformat())
            self._seen[key] = datetime.fromisoformat(stored)

    async def run_due(self) -> int:
        """Fan out the reminders due now (idempotent); return rows written."""
        async with self._lock:
            now = self.clock.now()
            # A reload may swap the catalog while this awaits: keep to one snapshot.
            upcoming = {i.id: i for i in self._pickets() if i.is_upcoming_picket(now)}
            await self._note_seen(list(upcoming.values()), now)
            planned = reminders.plan(upcoming.values(), self.default_offsets)
            sent = await self.store.broadcast_keys(MessageKey.prefix(RowKind.REMINDER))
            written = 0
            for due in reminders.due(planned, now, sent, self._seen):
                item = upcoming[due.reminder.picket_id]
                count = await self.dispatcher.enqueue(
                    item, due.reminder.message_key, due.variant, now
                )
                if count is None:
                    continue
                log.info(
                    "reminder picket=%s offset=%s late=%s recipients=%d",
                    item.id,
                    due.reminder.offset,
                    due.late,
                    count,
                )
                written += count
        if written:
            self.wake()
        return written

    async def _notify_moved(self, now: datetime) -> None:
        """Tell the chats reminded of an old start of a picket that it moved."""
        for item in self._pickets():
            assert item.starts is not None
            if not item.is_upcoming_picket(now):
                continue
            rows = await self.store.reminded_chats(item.id, reminders.reminders_of(item.id))
            chats = reminders.moved_chats(rows, item.starts)
            if not chats:
                continue
            key = reminders.changed_key(item.id, item.starts)
            count = await self.dispatcher.enqueue(item, key, Variant.CHANGED, now, chats=chats)
            if count:
                log.info("picket moved picket=%s notified=%d", item.id, count)
                self.wake()

    def _current(self, row: OutboxRow) -> tuple[Item, Texts, datetime]:
        item = self.catalog.items.get(row.item_id)
        now = self.clock.now()
        if item is None:
            withdrawn = row.item_id in self.catalog.withdrawn
            raise Unsendable("withdrawn" if withdrawn else "item-gone")
        if not reminders.is_current(item, row.message_key, now):
            # Moved or already begun: a newer reminder or notice covers it.
            raise Unsendable("stale-reminder")
        local, t = as_read(item, row.language, self.catalog.default_lang)
        return local, t, now

    async def compose_reminder(self, row: OutboxRow) -> Action:
        item, t, now = self._current(row)
        late = row.variant == Variant.LATE_REMINDER
        text = reminders.reminder_text(item, t, now, late=late)
        return Send(Outgoing(text, protect_content=item.protect_content))

    async def compose_changed(self, row: OutboxRow) -> Action:
        item, t, now = self._current(row)
        text = reminders.changed_text(item, t, now)
        return Send(Outgoing(text, protect_content=item.protect_content))
