"""The catalog's length rule: an update may need at most `max_parts` Telegram messages.

Counting parts means composing the update's message and rendering it, which
is render's job, while refusing a file is the catalog's: the catalog takes
the rule as a hook (`Catalog.too_long`) and whoever builds it (the App, the
`strikewire` commands) passes `part_limit(config.broadcast.max_parts)`, so
bot/content never imports bot/render.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.content.items import Item
from bot.i18n import texts
from bot.problems import Problem
from bot.render import TELEGRAM_LIMIT, to_telegram
from bot.render.compose import item_message

TooLong = Callable[[Item], Problem | None]


def part_limit(max_parts: int) -> TooLong:
    """The check for updates whose text, in any language, needs more than `max_parts` messages."""

    def too_long(item: Item) -> Problem | None:
        for lang in (item.lang, *item.translations):
            local = item.in_language(lang)
            text = item_message(local, texts(lang))
            # Telegram HTML is rarely twice the Markdown: shorter text cannot
            # need more parts, and rendering every file at load costs time.
            if len(text) * 2 <= TELEGRAM_LIMIT * max_parts:
                continue
            parts = len(to_telegram(text))
            if parts > max_parts:
                return Problem(
                    local.path,
                    0,
                    f"the text ({len(text):,} characters) needs {parts:,} Telegram messages; "
                    f"at most {max_parts} are allowed (broadcast.max_parts): "
                    "shorten it or split it into several updates",
                )
        return None

    return too_long
