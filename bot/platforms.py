"""The chat platforms the bot speaks on, as one enum.

A `StrEnum`: a member equals its stored string (`Platform.TELEGRAM ==
"telegram"`), so the `platform` columns, the config's `platform:` keys and
the log lines keep their values. This module imports nothing of the bot.
"""

from __future__ import annotations

import enum


class Platform(enum.StrEnum):
    TELEGRAM = "telegram"
    MATRIX = "matrix"
    CONSOLE = "console"  # the local terminal (no config): one chat, "local"
