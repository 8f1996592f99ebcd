"""The operator's view: subscribers, queue depth, recent errors, invalid files.

Shared by `/status` in chat and `strikewire status` on the command line. It
names platforms and items, never chats.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.catalog import Catalog
from bot.render import escape_markdown as esc
from bot.store import Store


async def status_text(store: Store, catalog: Catalog) -> str:
    subs = await store.subscriber_counts()
    queue = await store.queue_counts()
    errors = await store.recent_errors()
    lines = ["**Status**", ""]
    total = sum(subs.values())
    lines.append(
        f"Subscribers: {total}"
        + (" (" + ", ".join(f"{esc(p)} {n}" for p, n in sorted(subs.items())) + ")" if subs else "")
    )
    platforms = sorted({p for p, _ in queue})
    if platforms:
        lines.append("Queue:")
        for platform in platforms:
            states = ", ".join(
                f"{s} {queue[(platform, s)]}"
                for s in ("queued", "sending", "sent", "failed")
                if (platform, s) in queue
            )
            lines.append(f"- {esc(platform)}: {states}")
    else:
        lines.append("Queue: empty")
    lines.append(f"Updates: {len(catalog.items)} valid, {len(catalog.problems)} problems")
    for problem in catalog.problems[:20]:
        lines.append(f"- `{problem.format()}`")
    if errors:
        lines.append("Last errors:")
        for platform, item_id, kind, when in errors:
            stamp = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M UTC")
            lines.append(f"- {esc(stamp)} {esc(platform)} {esc(item_id)}: {esc(kind)}")
    return "\n".join(lines)
