"""The operator's view: subscribers, queue depth, recent errors, invalid files.

Shared by `/status` in chat and `strikewire status` on the command line. It
names platforms and items, never chats.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.content.catalog import Catalog
from bot.i18n import N_, Texts
from bot.render import escape_markdown as esc
from bot.store import Store

# Queue states as the status names them.
STATES = {
    "queued": N_("queued"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "failed": N_("failed"),
    "halted": N_("halted"),
}


async def status_text(store: Store, catalog: Catalog, t: Texts) -> str:
    subs = await store.subscriber_counts()
    queue = await store.queue_counts()
    errors = await store.recent_errors()
    lines = ["**" + t.md("Status") + "**", ""]
    total = sum(subs.values())
    per_platform = ", ".join(f"{p} {n}" for p, n in sorted(subs.items()))
    lines.append(
        t.md("Subscribers: {count}", count=total) + (f" ({esc(per_platform)})" if subs else "")
    )
    platforms = sorted({p for p, _ in queue})
    if platforms:
        lines.append(t.md("Queue:"))
        for platform in platforms:
            states = ", ".join(
                f"{t._(label)} {queue[(platform, state)]}"
                for state, label in STATES.items()
                if (platform, state) in queue
            )
            lines.append(f"- {esc(platform)}: {esc(states)}")
    else:
        lines.append(t.md("Queue: empty"))
    lines.append(
        t.md(
            "Updates: {valid} valid, {problems} problems",
            valid=len(catalog.items),
            problems=len(catalog.problems),
        )
    )
    for problem in catalog.problems[:20]:
        lines.append(f"- `{problem.format()}`")
    if errors:
        lines.append(t.md("Last errors:"))
        for platform, item_id, kind, when in errors:
            stamp = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M UTC")
            lines.append(f"- {esc(stamp)} {esc(platform)} {esc(item_id)}: {esc(kind)}")
    return "\n".join(lines)
