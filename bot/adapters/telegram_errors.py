"""What a Telegram send failure means for the delivery worker.

PTB raises `telegram.error` exceptions carrying the Bot API's description;
this module maps each to one of base.py's `SendError` kinds. PTB strips the
"Bad Request: " / "Forbidden: " prefixes and capitalises what is left, so
every match here is on the lower-cased text.
"""

from __future__ import annotations

import warnings

from telegram import error as tg
from telegram.warnings import PTBDeprecationWarning

from bot.adapters.base import ChatGone, ChatMoved, Rejected, RetryAfter, SendError, Transient

# Bad Request descriptions that mean the chat itself is unreachable for good.
_GONE = (
    "chat not found",
    "user not found",
    "peer_id_invalid",
    "group chat was deactivated",
    "bot was kicked",
    "bot is not a member",
    "chat was deleted",
    "user is deactivated",
    "bot was blocked",
)
# Forbidden descriptions that are about this message, not about the chat.
_FORBIDDEN_BUT_PRESENT = ("not enough rights", "have no rights", "need administrator rights")


def retry_after_seconds(exc: tg.RetryAfter) -> float:
    """`exc.retry_after` in seconds, whichever type this PTB version returns."""
    with warnings.catch_warnings():
        # PTB 22 warns that the attribute will become a timedelta; both are handled.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    if isinstance(value, int | float):
        return float(value)
    return value.total_seconds()


def classify(exc: tg.TelegramError) -> SendError:
    """The `SendError` for a PTB exception raised by a send."""
    text = exc.message.lower()
    if isinstance(exc, tg.RetryAfter):
        return RetryAfter(retry_after_seconds(exc), f"telegram: {exc.message}")
    if isinstance(exc, tg.ChatMigrated):
        return ChatMoved(str(exc.new_chat_id), "telegram: group upgraded to a supergroup")
    if isinstance(exc, tg.Forbidden):
        if any(part in text for part in _FORBIDDEN_BUT_PRESENT):
            return Rejected(f"telegram: {exc.message}")
        return ChatGone(f"telegram: {exc.message}")
    if isinstance(exc, tg.BadRequest):
        if any(part in text for part in _GONE):
            return ChatGone(f"telegram: {exc.message}")
        return Rejected(f"telegram: {exc.message}")
    # TimedOut, NetworkError (PTB's name for 5xx and connection failures),
    # Conflict, InvalidToken mid-run and anything new: try again later.
    return Transient(f"telegram: {type(exc).__name__}: {exc.message}")
