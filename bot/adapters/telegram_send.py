"""Sending to Telegram: render, wait for a limiter slot, call the Bot API, classify.

`TelegramSender.send` turns one `Outgoing` into as many requests as it needs
(text parts, a document), each in its own `SendLimiter` slot, and turns PTB's
exceptions into base.py's `SendError`s via telegram_errors.py. A 429 pauses
the limiter before the error goes anywhere. `edit` and `take_back` do the
same for corrections and withdrawals: editMessageText per part (a part that
already shows its text is fine), new parts sent after, surplus ones deleted;
deleteMessage, or an edit to the withdrawal note where Telegram refuses to
delete (after 48 hours; a photo's caption becomes the note). Each request
takes a slot like a send; an album takes one slot per photo. An update's
photos and documents go first, through telegram_media.py.

Text parts go out through the bot's own request object
(`BaseRequest.post`, the step every `Bot` method ends in: the same JSON body,
and PTB's own answer handling, so every Bot API error still surfaces as the
usual `telegram.error` exception), without `Bot.send_message`'s layers around
it: the defaults, the argument checks and the `telegram.Message` built from the
answer (`Message.de_json` alone was about 90 µs of CPU per message, a fifth
of the adapter's cost in a paid broadcast; the layers between `Bot._post` and
the request another 8 % of the bot's CPU). Only the message id is used.
A broadcast sends one text to every chat, so the arguments but the chat are
turned into `RequestParameter`s and encoded once (`text_body`); each send
adds its chat in front, to the same bytes PTB's `RequestData` would make.
`RequestParameter`, which turns each argument into its wire form as `Bot`
does, is the one private name used here (PTB is pinned to 22.x; the adapter
tests cover it).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, TypeVar

from telegram import InputFile, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.adapters.base import Outgoing, Priority, RetryAfter, Transient
from bot.adapters.telegram_errors import classify
from bot.adapters.telegram_limiter import SendLimiter
from bot.adapters.telegram_media import FileIds, MediaSender
from bot.adapters.telegram_request import AiohttpRequest
from bot.render import to_telegram

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# How often a send that must finish (an answer, or the rest of a message whose
# first part is out) is tried after a 429 or a network error.
FINISH_ATTEMPTS = 5
T = TypeVar("T")


@lru_cache(maxsize=256)
def render(markdown: str, limit: int = TEXT_LIMIT) -> tuple[str, ...]:
    # A broadcast renders the same text for every chat: render it once.
    return tuple(to_telegram(markdown, limit))


def chat_ref(chat_id: str) -> int | str:
    """Numeric ids go to the API as numbers, `@channelname` as it is."""
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


class TelegramSender:
    """Sends `Outgoing` messages with a PTB bot through a `SendLimiter`."""

    def __init__(
        self,
        bot: Callable[[], Any],
        limiter: SendLimiter,
        *,
        paid: bool,
        files: FileIds | None = None,
    ) -> None:
        self._bot = bot  # PTB's bot exists only once the adapter has started
        self.limiter = limiter
        self.paid = paid
        self.retry_after_count = 0
        self.media = MediaSender(bot, self._call, files or FileIds(None, "0"))

    async def send(self, chat_id: str, message: Outgoing, priority: Priority) -> list[str]:
        """Send every part; return the message ids; raise a `SendError`."""
        bot = self._bot()
        ref = chat_ref(chat_id)
        protect = bool(message.protect_content)
        parts = list(render(message.markdown)) if message.markdown.strip() else []
        caption: str | None = None
        lone_file = len(message.media) + (message.attachment is not None) == 1
        if lone_file and parts:
            short = render(message.markdown, CAPTION_LIMIT)
            if len(short) == 1:
                caption, parts = short[0], []
        ids: list[str] = []
        reply_to = message.reply_to
        if message.media:
            options = partial(send_options, self.paid, protect)
            ids = await self.media.send(chat_id, ref, message, caption, options, priority)
            reply_to = ids[0]
        for part in parts:
            body = text_body(part, self.paid, protect, reply_to)
            send_text = partial(_send_text, bot, ref, body)
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
                **send_options(self.paid, protect, message.reply_to),
            )
            ids.append(await self._call(chat_id, priority, send_document, finish=bool(ids)))
        return ids

    async def edit(self, chat_id: str, message_ids: Sequence[str], message: Outgoing) -> list[str]:
        """Make one sent message's parts show `message`; return the ids standing now."""
        bot = self._bot()
        ref = chat_ref(chat_id)
        parts = list(render(message.markdown)) if message.markdown.strip() else []
        standing: list[str] = []
        reply_to: str | None = None
        if message.media:
            standing, parts, message_ids = await self._edit_media(chat_id, message_ids, message)
            reply_to = standing[0] if standing else None
        for index, part in enumerate(parts):
            if index < len(message_ids):
                request = partial(_edit_text, bot, ref, message_ids[index], part)
            else:
                body = text_body(part, self.paid, bool(message.protect_content), reply_to)
                request = partial(_send_text, bot, ref, body)
            finish = bool(standing)
            standing.append(await self._call(chat_id, Priority.BROADCAST, request, finish=finish))
        for surplus in message_ids[len(parts) :]:
            delete = partial(_delete_or_edit, bot, ref, surplus, None)
            await self._call(chat_id, Priority.BROADCAST, delete, finish=True)
        return standing

    async def _edit_media(
        self, chat_id: str, message_ids: Sequence[str], message: Outgoing
    ) -> tuple[list[str], list[str], Sequence[str]]:
        """Edit the media messages (the first ids); return them, the text parts
        still to show and the ids of the text messages standing."""
        count = len(message.media)
        parts = list(render(message.markdown)) if message.markdown.strip() else []
        caption = ""
        text_ids = message_ids[count:]
        # A lone file whose caption was the text keeps it there while it fits;
        # a text grown too long moves out of the caption, after the file.
        if count == 1 and not text_ids and len(parts) <= 1:
            short = render(message.markdown, CAPTION_LIMIT) if parts else ()
            if len(short) <= 1:
                caption, parts = (short[0] if short else ""), []
        ref = chat_ref(chat_id)
        standing = await self.media.edit(chat_id, ref, message_ids[:count], message.media, caption)
        return standing, parts, text_ids

    async def take_back(self, chat_id: str, message_ids: Sequence[str], fallback: Outgoing) -> None:
        """Delete the messages; edit one Telegram will not delete to `fallback`."""
        bot = self._bot()
        ref = chat_ref(chat_id)
        note = render(fallback.markdown)[0]
        for index, message_id in enumerate(message_ids):
            delete = partial(_delete_or_edit, bot, ref, message_id, note)
            await self._call(chat_id, Priority.BROADCAST, delete, finish=index > 0)

    async def _call(
        self,
        chat_id: str,
        priority: Priority,
        request: Callable[[], Awaitable[T]],
        *,
        finish: bool,
        weight: int = 1,
    ) -> T:
        """One API request in its limiter slot (`weight` messages: an album);
        returns what the request returns (the message id).

        A broadcast's first request hands 429s and network errors to the
        worker, which reschedules the row. Answers, and the later parts of a
        message whose first part is out, are retried here instead: rescheduling
        them would send the earlier parts twice, and no worker stands behind an
        answer."""
        finish = finish or priority is Priority.REPLY
        attempts = 0
        while True:
            await self.limiter.slot(chat_id, priority, weight)
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


def send_options(paid: bool, protect: bool, reply_to: str | None) -> dict[str, Any]:
    """A send's options as `Bot`'s arguments, those not asked for left out."""
    options: dict[str, Any] = {}
    if protect:
        options["protect_content"] = True
    if paid:
        options["allow_paid_broadcast"] = True
    if reply_to is not None:
        options["reply_parameters"] = ReplyParameters(
            int(reply_to), allow_sending_without_reply=True
        )
    return options


@dataclass(frozen=True)
class TextBody:
    """sendMessage's arguments but the chat: as PTB's `RequestParameter`s,
    and encoded as the JSON that follows the chat in the request's body."""

    fields: tuple[RequestParameter, ...]
    after_chat: bytes

    def payload(self, ref: int | str) -> bytes:
        """The body PTB's `RequestData` makes of the chat and the fields."""
        # PTB encodes every argument to a string first: a chat id goes as "123".
        chat = f'"{ref}"' if isinstance(ref, int) else json.dumps(ref)
        return b'{"chat_id": ' + chat.encode() + self.after_chat

    def request_data(self, ref: int | str) -> RequestData:
        return RequestData([RequestParameter("chat_id", ref, None), *self.fields])


@lru_cache(maxsize=256)
def text_body(text: str, paid: bool, protect: bool, reply_to: str | None) -> TextBody:
    """sendMessage's arguments but the chat, in their wire form as `Bot` makes
    them. The same for every chat of a broadcast: made once."""
    params = {
        "text": text,
        "parse_mode": ParseMode.HTML.value,
        **send_options(paid, protect, reply_to),
    }
    fields = tuple(RequestParameter.from_input(k, v) for k, v in params.items())
    rest = RequestData(list(fields)).json_payload  # b'{"text": ...}'
    return TextBody(fields, b", " + rest[1:])


async def _send_text(bot: Any, ref: int | str, body: TextBody) -> str:
    request = bot.request
    url = f"{bot.base_url}/sendMessage"
    if isinstance(request, AiohttpRequest):
        result = await request.post_json(url, body.payload(ref))
    else:  # another transport (bench.bench_telegram's httpx comparison)
        result = await request.post(url, body.request_data(ref))
    return str(result["message_id"])


async def _send_document(bot: Any, *args: Any, **kwargs: Any) -> str:
    sent = await bot.send_document(*args, **kwargs)
    return str(sent.message_id)


async def _edit_text(bot: Any, ref: int | str, message_id: str, text: str) -> str:
    try:
        await bot.edit_message_text(
            text, chat_id=ref, message_id=int(message_id), parse_mode=ParseMode.HTML
        )
    except BadRequest as exc:
        # The part shows this text already (an edit retried after a crash).
        if "message is not modified" not in exc.message.lower():
            raise
    return message_id


async def _edit_caption(bot: Any, ref: int | str, message_id: str, text: str) -> str:
    try:
        await bot.edit_message_caption(
            chat_id=ref, message_id=int(message_id), caption=text, parse_mode=ParseMode.HTML
        )
    except BadRequest as exc:
        if "message is not modified" not in exc.message.lower():
            raise
    return message_id


async def _delete_or_edit(bot: Any, ref: int | str, message_id: str, note: str | None) -> str:
    """Delete a message; where Telegram refuses, edit it to `note` (if any)."""
    try:
        await bot.delete_message(ref, int(message_id))
    except BadRequest as exc:
        text = exc.message.lower()
        if "can't be deleted" in text and note is not None:
            try:
                return await _edit_text(bot, ref, message_id, note)
            except BadRequest as refused:  # a photo or a document: its caption says it
                if "no text in the message" not in refused.message.lower():
                    raise
                return await _edit_caption(bot, ref, message_id, note[:CAPTION_LIMIT])
        # Gone already (a person deleted it, or a retry after a crash) is done.
        if "not found" not in text:
            raise
    return message_id
