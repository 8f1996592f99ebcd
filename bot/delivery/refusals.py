"""What a platform's refusal of a send does to the row, the chat's later rows
and the chat: the worker's reading of each `SendError` subclass
(bot/adapters/base.py).

- `RetryAfter`: the row waits exactly as long as asked.
- `ChatGone`: the row and the chat's later rows fail, the chat is unsubscribed.
- `ChatMoved`: the chat's rows are requeued under its new id.
- `Rejected`: the row fails; it would be refused again.
- anything else (`Transient`): retried with backoff.
"""

from __future__ import annotations

import logging
from collections import deque

from bot.adapters.base import ChatGone, ChatMoved, Rejected, RetryAfter, SendError
from bot.delivery.outcomes import OutcomeNotes
from bot.store import OutboxRow, Store

# Logged as the worker's own lines.
log = logging.getLogger("bot.delivery.worker")


async def platform_refused(
    exc: SendError,
    row: OutboxRow,
    rest: deque[OutboxRow],
    out: OutcomeNotes,
    store: Store,
    held: dict[int, float],
    now: float,
) -> None:
    """Note what `exc` means for `row` (and, for a gone or moved chat, for
    `rest`, the chat's rows waiting after it, which it empties)."""
    if isinstance(exc, RetryAfter):
        out.counts.retry_after(out.platform)
        out.retry(row, now + exc.seconds, exc.kind)
    elif isinstance(exc, ChatGone):
        out.failed(row, exc.kind)
        for later in rest:
            out.failed(later, "chat-gone")
        rest.clear()
        await store.stop(out.platform, row.chat_id, error_kind=exc.kind)
        log.info("chat gone platform=%s item=%s; unsubscribed", out.platform, row.item_id)
    elif isinstance(exc, ChatMoved):
        # The move requeues this row and the chat's later ones at the new id.
        await store.move_chat(out.platform, row.chat_id, exc.new_chat_id)
        for moved in (row, *rest):
            held.pop(moved.id, None)
            out.counts.outcome(out.platform, moved.kind, "retried")
        rest.clear()
        log.info(
            "chat moved platform=%s item=%s; requeued at the new id", out.platform, row.item_id
        )
    elif isinstance(exc, Rejected):
        out.failed(row, exc.kind)
        log.warning(
            "delivery rejected platform=%s item=%s reason=%s",
            out.platform,
            row.item_id,
            exc.reason[:120],
        )
    else:
        out.retry_later(row, exc.kind, now)
