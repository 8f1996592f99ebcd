"""The Telegram command menus: what `/` shows, per language and for the bot's admins.

The entries come from the command table (bot/chat/commands.py), handed to the
adapter as a `Menu` by the App: adapters do not import bot/chat.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any, Protocol

from telegram import BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from bot.i18n import LANGUAGES

log = logging.getLogger(__name__)


class Menu(Protocol):
    """The command menu in one language, everyone's or the bot's admins':
    (command, one line) pairs, in the order shown."""

    def __call__(self, lang: str, *, admin: bool) -> Sequence[tuple[str, str]]: ...


async def set_menus(bot: Any, menu: Menu, default: str, admins: Collection[int]) -> None:
    """The menu in the default language, one per other language (Telegram
    shows users the one for their client language), and admins' own."""

    def commands(lang: str, *, admin: bool = False) -> list[BotCommand]:
        return [BotCommand(n, d) for n, d in menu(lang, admin=admin)]

    await bot.set_my_commands(commands(default))
    for lang in LANGUAGES:
        if lang != default:
            await bot.set_my_commands(commands(lang), language_code=lang)
    for admin in admins:
        try:
            await bot.set_my_commands(
                commands(default, admin=True), scope=BotCommandScopeChat(admin)
            )
            for lang in LANGUAGES:
                if lang != default:
                    await bot.set_my_commands(
                        commands(lang, admin=True),
                        scope=BotCommandScopeChat(admin),
                        language_code=lang,
                    )
        except TelegramError as exc:  # an admin who never opened a chat with the bot
            log.info("telegram admin command menu not set error=%s", type(exc).__name__)
