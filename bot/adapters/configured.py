"""The adapters the config asks for (the console when it asks for none).

Telegram and Matrix are imported only when configured: a console-only bot
never loads their libraries. The Matrix adapter logs rooms by pseudonym,
keyed from privacy.key when one is set (bot/logs.py `Pseudonyms`).
"""

from __future__ import annotations

from bot.adapters.base import Adapter
from bot.adapters.console import ConsoleAdapter
from bot.adapters.telegram_menu import Menu
from bot.config import Config
from bot.logs import PLAIN, Pseudonyms
from bot.store import PrefixedState, Store


def build_adapters(config: Config, store: Store, menu: Menu | None = None) -> list[Adapter]:
    """The adapters the config asks for; the console when it asks for none.
    `menu` is what Telegram sets its command menus from (handed in by the
    App: adapters do not import bot/chat)."""
    adapters: list[Adapter] = []
    if config.telegram is not None:
        from bot.adapters.telegram import TelegramAdapter

        adapters.append(
            TelegramAdapter(
                config.telegram,
                default_language=config.language,
                menu=menu,
                state=PrefixedState(store, "telegram"),
            )
        )
    if config.matrix is not None:
        from bot.adapters.matrix import MatrixAdapter

        store_path = config.matrix_store_path
        assert store_path is not None
        keyring = config.privacy.keyring
        adapters.append(
            MatrixAdapter(
                config.matrix,
                store_path=store_path,
                state=PrefixedState(store, "matrix"),
                hide=PLAIN if keyring is None else Pseudonyms(keyring.logs),
            )
        )
    return adapters or [ConsoleAdapter()]
