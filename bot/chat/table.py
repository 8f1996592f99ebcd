"""The shape of the command table: one row per command, in bot/chat/commands.py.

Everything that lists or checks commands reads the same rows: the dispatch in
`Commands.handle`, /help, the Telegram menus per scope, and the refusals.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.adapters.base import Outgoing

if TYPE_CHECKING:
    from bot.chat.commands import Asked, Commands


class Who(enum.IntEnum):
    """Who may use a command; each level includes the ones above it."""

    ANYONE = 0  # anyone, in any chat
    MANAGERS = 1  # who may change what the chat receives (a group's admins)
    ADMINS = 2  # the bot's configured admins (telegram.admins, matrix.admins)


Run = Callable[["Commands", "Asked"], Awaitable[list[Outgoing]]]


@dataclass(frozen=True)
class Command:
    name: str
    run: Run
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
