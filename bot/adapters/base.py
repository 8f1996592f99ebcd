"""The seam between the platform-neutral core and the platform adapters.

An adapter (Telegram, Matrix, console) is the only code that knows a platform.
It turns incoming chat messages into `Incoming` values for the core, renders
the core's platform-neutral `Outgoing` messages (Markdown) for its platform and
sends them, and classifies every platform failure as one of the `SendError`
subclasses below so the delivery worker can decide what to do.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.limits import MAX_DOCUMENT_BYTES
from bot.media.types import Media
from bot.platforms import Platform

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "Adapter",
    "AdapterStartError",
    "Attachment",
    "ChatGone",
    "ChatGoneHandler",
    "ChatKind",
    "ChatMoved",
    "CommandHandler",
    "Document",
    "Incoming",
    "Outgoing",
    "Platform",
    "Priority",
    "Rejected",
    "RetryAfter",
    "SendError",
    "Transient",
]


class ChatKind(enum.StrEnum):
    """What sort of chat a message came from."""

    PRIVATE = "private"
    GROUP = "group"
    CHANNEL = "channel"


class Priority(enum.IntEnum):
    """Who goes first when an adapter's rate limit makes sends wait."""

    REPLY = 0  # an answer to a command a person just typed
    BROADCAST = 1  # outbox traffic: updates and reminders


@dataclass(frozen=True)
class Incoming:
    """One command-like message from a chat, already normalised by the adapter.

    `text` starts with the command (`/address metallist`); the adapter has
    already stripped a `@botname` suffix addressed to this bot and turned a
    Matrix `!cmd` into `/cmd`. Messages addressed to another bot never arrive.
    """

    platform: str
    chat_id: str
    chat_kind: ChatKind
    text: str
    # The sender may change what this chat receives: the private chat's own
    # user, a group admin (Telegram) / power level >= 50 or a room creator
    # (Matrix), or a configured admin.
    may_manage: bool
    # The sender is one of the operator's configured admins (telegram.admins /
    # matrix.admins); only they may use /status.
    is_bot_admin: bool
    # The sender's client language (Telegram's `language_code`), if known:
    # it picks the bot's language at a chat's first contact.
    language: str | None = None
    # The whole message as Markdown, command line included: Telegram's
    # formatting (bold, italic, links, code) written as Markdown, a Matrix
    # message's body as typed. Organisers' /post and /edit read it.
    markdown: str | None = None
    # A file sent with the command (a Telegram document captioned `/post`, a
    # Matrix m.file): what /post and /edit read instead of the text.
    document: Document | None = None
    # Who sent it, as the platform names them (a Telegram user id, a Matrix
    # user id, "console"). The core only keeps a keyed hash of it, and only
    # while a draft is open (to tell one admin's approval from another's).
    sender: str | None = None


# Documents larger than MAX_DOCUMENT_BYTES are not downloaded (update files
# are refused above it by `strikewire check` too); bot/limits.py holds it.


@dataclass(frozen=True)
class Document:
    """A file someone sent the bot. `content` is None when the platform said it
    is larger than MAX_DOCUMENT_BYTES: the bot did not download it."""

    filename: str
    size: int
    content: bytes | None


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message, such as the pickets calendar."""

    filename: str
    content: bytes
    mime_type: str


@dataclass(frozen=True)
class Outgoing:
    """A message in platform-neutral form: Markdown the adapter renders."""

    markdown: str
    protect_content: bool = False
    attachment: Attachment | None = None
    # An update's photos and leaflets (bot/media): sent before or with the
    # text, as the platform allows; an adapter that cannot send them writes
    # one `[image: alt]` / `[document: name]` line each instead.
    media: tuple[Media, ...] = ()
    # Sent as a reply to this message of the same chat (a correction notice).
    reply_to: str | None = None


class SendError(Exception):
    """A send failed; the subclass says what the delivery worker should do."""

    kind = "error"

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class RetryAfter(SendError):
    """The platform asked us to wait this many seconds before trying again."""

    kind = "retry-after"

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"retry after {seconds:g}s")
        self.seconds = seconds


class Transient(SendError):
    """A network error or server error: try again later with backoff."""

    kind = "transient"


class ChatGone(SendError):
    """Blocked, deactivated, kicked or not found: unsubscribe the chat."""

    kind = "chat-gone"


class ChatMoved(SendError):
    """The chat lives on under a new id (a Telegram group became a supergroup)."""

    kind = "chat-moved"

    def __init__(self, new_chat_id: str, reason: str = "") -> None:
        super().__init__(reason or "chat moved")
        self.new_chat_id = new_chat_id


class Rejected(SendError):
    """The platform refused this message (too long, bad markup): never retry it."""

    kind = "rejected"


CommandHandler = Callable[[Incoming], Awaitable[list[Outgoing]]]
ChatGoneHandler = Callable[[str, str], Awaitable[None]]  # (platform, chat_id)


class Adapter(Protocol):
    """What the core needs from a platform."""

    platform: Platform
    # How many outbox rows the delivery worker may hand to `send` at once; the
    # adapter's own rate limiter decides when each actually goes out.
    max_in_flight: int

    async def start(self, on_command: CommandHandler, on_chat_gone: ChatGoneHandler) -> None:
        """Connect and begin receiving; each command's answers are sent by the
        adapter itself at `Priority.REPLY`. `on_chat_gone` reports a chat the
        bot was removed from (kicked, left) outside of a send."""

    async def stop_receiving(self) -> None:
        """Stop taking commands (and answer the ones under way); `send` still
        works, so the delivery worker can finish what is in flight."""

    async def stop(self) -> None:
        """Stop receiving if not done yet, then disconnect."""

    def health(self) -> str | None:
        """None while connected and able to send; otherwise why not, in one
        short line for /healthz (`matrix: sync failing`). Names no chat."""
        ...

    def subscribe_link(self) -> str | None:
        """Where a person starts following the bot on this platform (a t.me or
        matrix.to link) for the web pages; None where there is none."""
        ...

    async def send(self, chat_id: str, message: Outgoing) -> list[str]:
        """Render and send `message` at `Priority.BROADCAST`, split into as
        many parts as the platform needs. Return the platform's message ids.
        Raise a `SendError` subclass on failure; anything else is a bug."""
        ...

    async def edit(self, chat_id: str, message_ids: Sequence[str], message: Outgoing) -> list[str]:
        """Make the messages `message_ids` (the parts of one sent message) show
        `message`: edit the parts that exist, send the new parts after them,
        delete the ones no longer needed. Return the ids that stand now.
        A part that already shows its text counts as edited."""
        ...

    async def take_back(
        self, chat_id: str, message_ids: Sequence[str], reason: str, fallback: Outgoing
    ) -> None:
        """Delete the messages `message_ids`; one the platform will not delete
        (Telegram after 48 hours) is edited to `fallback` instead. A message
        already gone counts as deleted."""
        ...


class AdapterStartError(Exception):
    """An adapter could not start; str() is one line for the operator."""
