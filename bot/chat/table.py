"""The shape of the command table: one row per command, in bot/chat/commands.py.

Everything that lists or checks commands reads the same rows: the dispatch in
`Commands.handle`, /help, the Telegram menus per scope, and the refusals.
`Asked` (one command to answer) lives here too: the handlers in commands.py and
publishing.py take it, and this module imports nothing else of bot/chat, so the
chat modules import one way (table <- answers <- desk_answers <- publishing <-
commands).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.adapters.base import Incoming, Outgoing
from bot.i18n import Texts
from bot.store import Subscription


class Who(enum.IntEnum):
    """Who may use a command; each level includes the ones above it."""

    ANYONE = 0  # anyone, in any chat
    MANAGERS = 1  # who may change what the chat receives (a group's admins)
    ADMINS = 2  # the bot's configured admins (telegram.admins, matrix.admins)


@dataclass(frozen=True)
class Asked:
    """A command to answer: the message, its arguments, what the chat receives
    (as it was when the command came), the reader's language."""

    msg: Incoming
    args: tuple[str, ...]
    sub: Subscription | None
    lang: str
    t: Texts
    # The message after the command word (Markdown), for commands that take text.
    rest: str = ""


# What answers the commands (bot/chat/commands.py's `Commands`): a type
# parameter, so this module need not import the class that holds the table.
H = TypeVar("H")
Run = Callable[[H, Asked], Awaitable[list[Outgoing]]]


@dataclass(frozen=True)
class Command(Generic[H]):
    name: str
    run: Run[H]
    # One line for /help and the menus; marked with N_ so it is translated.
    does: str
    who: Who = Who.ANYONE
    # How its arguments are written, for /help (N_), e.g. "[campaign…]".
    args: str = ""
    # Only in a private chat / direct room with the bot (publishing).
    private: bool = False
    # Reads the whole message (the lines after the command), not only words.
    takes_text: bool = False
    # Changes what is stored about the chat (a subscription, its language, or
    # deletes it all):
    # in channel-only mode (privacy.subscriptions: false) it only says where
    # to follow the campaign.
    stores: bool = False
