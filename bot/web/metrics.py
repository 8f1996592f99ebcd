"""`/metrics` in Prometheus' format, by prometheus-client, from an App-owned registry.

Counters move as the delivery workers note outcomes (`DeliveryCounts` in
bot/delivery/worker.py): messages sent, failed and retried by platform and
row kind, and the 429s ("too many requests") the platforms answered. Gauges
are read from the store and the catalog when scraped: rows queued and in
flight, the age of the oldest row that is due, subscribers per platform and
invalid update files. Labels are platforms, row kinds and queue states only:
nothing names a chat or a user.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.content.catalog import Catalog
from bot.store import RowKind, Store
from bot.store.web_reads import oldest_due

CONTENT_TYPE = CONTENT_TYPE_LATEST
QUEUE_STATES = ("queued", "sending")


class Metrics:
    """One App's metrics; several Apps in one process each have their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        labels = ["platform", "kind"]
        self._outcomes = {
            "sent": Counter(
                "strikewire_messages_sent", "Messages sent (rows done)", labels, registry=r
            ),
            "failed": Counter(
                "strikewire_messages_failed",
                "Rows given up: chat gone, message rejected, too many attempts, item gone",
                labels,
                registry=r,
            ),
            "retried": Counter(
                "strikewire_messages_retried",
                "Sends that failed for now and were put back in the queue",
                labels,
                registry=r,
            ),
        }
        self._retry_after = Counter(
            "strikewire_rate_limited",
            'Sends the platform answered with "too many requests" (HTTP 429, M_LIMIT_EXCEEDED)',
            ["platform"],
            registry=r,
        )
        self._queue = Gauge(
            "strikewire_queue_rows",
            "Outbox rows queued or being sent",
            ["platform", "state"],
            registry=r,
        )
        self._oldest = Gauge(
            "strikewire_queue_oldest_due_age_seconds",
            "How long the oldest row that is due has waited (0: none waiting)",
            ["platform"],
            registry=r,
        )
        self._subscribers = Gauge(
            "strikewire_subscribers", "Chats subscribed", ["platform"], registry=r
        )
        self._invalid = Gauge(
            "strikewire_invalid_update_files", "Update files that failed validation", registry=r
        )
        # Each send counts once: looked up here, not by `labels()` (a lock and
        # label checks) thousands of times a second.
        self._children: dict[tuple[str, str, str], Any] = {}

    def know(self, platforms: Sequence[str]) -> None:
        """Show every series of these platforms from the start, at 0."""
        for platform in platforms:
            for counter in self._outcomes.values():
                for kind in RowKind:
                    counter.labels(platform, kind.value)
            self._retry_after.labels(platform)

    # DeliveryCounts (bot.delivery.worker)

    def outcome(self, platform: str, kind: str, outcome: str) -> None:
        key = (platform, kind, outcome)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._outcomes[outcome].labels(platform, str(kind))
        child.inc()

    def retry_after(self, platform: str) -> None:
        self._retry_after.labels(platform).inc()

    async def refresh(
        self, store: Store, catalog: Catalog, platforms: Sequence[str], now: datetime
    ) -> None:
        """Read the gauges from the store and the catalog (before each scrape)."""
        counts = await store.queue_counts()
        subs = await store.subscriber_counts()
        stamp = now.timestamp()
        oldest = await oldest_due(store, stamp)
        known = sorted({*platforms, *subs, *(p for p, _ in counts)})
        self._queue.clear()
        self._oldest.clear()
        self._subscribers.clear()
        for platform in known:
            for state in QUEUE_STATES:
                self._queue.labels(platform, state).set(counts.get((platform, state), 0))
            due = oldest.get(platform)
            self._oldest.labels(platform).set(0.0 if due is None else max(0.0, stamp - due))
            self._subscribers.labels(platform).set(subs.get(platform, 0))
        self._invalid.set(len(catalog.problems))

    def forget_gauges(self) -> None:
        """Drop the store's gauges (when it cannot be read): no stale numbers."""
        for gauge in (self._queue, self._oldest, self._subscribers):
            gauge.clear()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
