"""Sending to Telegram: render, wait for a limiter slot, call the Bot API, classify.

`TelegramSender.send` turns one `Outgoing` into as many requests as it needs
(text parts, a document), each in its own `SendLimiter` slot, and turns PTB's
exceptions into base.py's `SendError`s via telegram_errors.py. A 429 pauses
the limiter before the error goes anywhere.

Text parts go out through `Bot._post("sendMessage", …)`, the request path
`Bot.send_message` itself ends in (same body, answer handling and exceptions),
without turning the answer into a `telegram.Message` (`Message.de_json`, about
90 µs of CPU per message: a fifth of the adapter's cost in a paid broadcast);
only the message id is used. It is PTB's one private method used here (PTB is
pinned to 22.x; the adapter tests cover it). The public `do_api_request`
would do the same but warns on every call for a method PTB has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import lru_cache, partial
from typing import Any

from telegram import InputFile
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.adapters.base import Outgoing, Priority, RetryAfter, Transient
from bot.adapters.telegram_errors import classify
from bot.adapters.telegram_limiter import SendLimiter
from bot.render import to_telegram

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# How often a send that must finish (an answer, or the rest of a message whose
# first part is out) is tried after a 429 or a network error.
FINISH_ATTEMPTS = 5


@lru_cache(maxsize=256)
def render(markdown: str, limit: int = TEXT_LIMIT) -> tuple[str, ...]:
    # A broadcast renders the same text for every chat: render it once.
    return tuple(to_telegram(markdown, limit))


def chat_ref(chat_id: str) -> int | str:
    """Numeric ids go to the API as numbers, `@channelname` as it is."""
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


class TelegramSender:
    """Sends `Outgoing` messages with a PTB bot through a `SendLimiter`."""

    def __init__(self, bot: Callable[[], Any], limiter: SendLimiter, *, paid: bool) -> None:
        self._bot = bot  # PTB's bot exists only once the adapter has started
        self.limiter = limiter
        self.paid = paid
        self.retry_after_count = 0

    async def send(self, chat_id: str, message: Outgoing, priority: Priority) -> list[str]:
        """Send every part; return the message ids; raise a `SendError`."""
        bot = self._bot()
        ref = chat_ref(chat_id)
        options: dict[str, Any] = {"protect_content": message.protect_content or None}
        if self.paid:
            options["allow_paid_broadcast"] = True
        parts = list(render(message.markdown)) if message.markdown.strip() else []
        caption: str | None = None
        if message.attachment is not None and parts:
            short = render(message.markdown, CAPTION_LIMIT)
            if len(short) == 1:
                caption, parts = short[0], []
        ids: list[str] = []
        for part in parts:
            params = {"chat_id": ref, "text": part, "parse_mode": ParseMode.HTML.value, **options}
            send_text = partial(_send_text, bot, params)
            ids.append(await self._call(chat_id, priority, send_text, finish=bool(ids)))
        if message.attachment is not None:
            attachment = message.attachment
            document = InputFile(attachment.content, filename=attachment.filename)
            send_document = partial(
                _send_document,
                bot,
                ref,
                document,
                caption=caption,
                parse_mode=ParseMode.HTML if caption else None,
                **options,
            )
            ids.append(await self._call(chat_id, priority, send_document, finish=bool(ids)))
        return ids

    async def _call(
        self,
        chat_id: str,
        priority: Priority,
        request: Callable[[], Awaitable[str]],
        *,
        finish: bool,
    ) -> str:
        """One API request in its limiter slot; returns the message id.

        A broadcast's first request hands 429s and network errors to the
        worker, which reschedules the row. Answers, and the later parts of a
        message whose first part is out, are retried here instead: rescheduling
        them would send the earlier parts twice, and no worker stands behind an
        answer."""
        finish = finish or priority is Priority.REPLY
        attempts = 0
        while True:
            await self.limiter.slot(chat_id, priority)
            try:
                return await request()
            except TelegramError as exc:
                error = classify(exc)
                cause = exc
            if isinstance(error, RetryAfter):
                self.retry_after_count += 1
                self.limiter.pause(error.seconds)
            attempts += 1
            if not (finish and isinstance(error, RetryAfter | Transient)):
                raise error from cause
            if attempts >= FINISH_ATTEMPTS:
                raise error from cause
            if isinstance(error, Transient):
                await asyncio.sleep(min(30.0, 0.5 * 2**attempts))


async def _send_text(bot: Any, params: dict[str, Any]) -> str:
    # _post drops the None values (protect_content when not asked for), as for send_message.
    result = await bot._post("sendMessage", dict(params))
    return str(result["message_id"])


async def _send_document(bot: Any, *args: Any, **kwargs: Any) -> str:
    sent = await bot.send_document(*args, **kwargs)
    return str(sent.message_id)
