"""The bot's own words in its readers' languages: gettext catalogues (Babel),
plural forms, and dates, times and durations as a reader of each expects.

Every text the bot writes goes through a `Texts` for the reader's language:
`t._("Stopped: …")`, `t.ngettext("{count} chat", "{count} chats", n, count=n)`.
Placeholders are `{name}` and filled after translation, so a translation may
put them in any order. `N_` marks a text for extraction where it is defined
and translated where it is used. The catalogues live in `locales/` as `.po`
files (see docs/translating.md); the package build compiles them to `.mo`,
and a checkout without `.mo` files reads the `.po` files directly.
"""

from __future__ import annotations

import gettext
from datetime import date, datetime, timedelta
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any, Literal

from babel import Locale
from babel.dates import format_skeleton, format_timedelta, get_datetime_format
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.markdown_escape import escape_markdown

DOMAIN = "strikewire"
LOCALES = Path(__file__).parent / "locales"
DEFAULT = "en"
# The bot's languages, each by its own name (as /language lists them).
LANGUAGES: dict[str, str] = {
    "en": "English",
    "ru": "Русский",
    "uk": "Українська",
    "kk": "Қазақша",
    "de": "Deutsch",
    "sv": "Svenska",
}


def N_(message: str) -> str:
    """Mark a text for extraction; it is translated where it is used."""
    return message


def _catalogue(lang: str) -> gettext.NullTranslations:
    folder = LOCALES / lang / "LC_MESSAGES"
    mo, po = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as f:
            return gettext.GNUTranslations(f)
    if po.exists():
        # A checkout where nothing compiled the catalogue yet: compile in memory.
        with po.open("rb") as f:
            catalog = read_po(f, locale=lang)
        buffer = BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return gettext.GNUTranslations(buffer)
    return gettext.NullTranslations()


class Texts:
    """One language's words, dates and durations."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.locale = Locale.parse(lang)
        self.name = LANGUAGES.get(lang, lang)
        self._catalogue = _catalogue(lang) if lang != DEFAULT else gettext.NullTranslations()

    def _(self, message: str, **values: Any) -> str:
        text = self._catalogue.gettext(message)
        return text.format(**values) if values else text

    def ngettext(self, singular: str, plural: str, count: int, **values: Any) -> str:
        text = self._catalogue.ngettext(singular, plural, count)
        return text.format(count=count, **values)

    def md(self, message: str, **values: Any) -> str:
        """`_` for Markdown: the translation and the values, shown literally."""
        return _markdown(self._catalogue.gettext(message), values)

    def nmd(self, singular: str, plural: str, count: int, **values: Any) -> str:
        return _markdown(
            self._catalogue.ngettext(singular, plural, count), {"count": count, **values}
        )

    def long_date(self, day: date) -> str:
        """`Sat, March 6, 2027`, `Sa., 6. März 2027`, `сб, 6 марта 2027 г.`."""
        return str(format_skeleton("yMMMMEd", day, locale=self.locale))

    def short_date(self, day: date) -> str:
        """`Nov 20, 2026`, `20.11.2026`-like: for lists."""
        return str(format_skeleton("yMMMd", day, locale=self.locale))

    def moment(self, when: datetime) -> str:
        """Date and time in the moment's own zone, with its UTC offset:
        `Sa., 6. März 2027, 12:00 (UTC+01:00)`."""
        day = format_skeleton("yMMMMEd", when, tzinfo=when.tzinfo, locale=self.locale)
        clock = format_skeleton("Hm", when, tzinfo=when.tzinfo, locale=self.locale)
        pattern = str(get_datetime_format("medium", locale=self.locale))
        offset = when.strftime("%z")
        zone = f"UTC{offset[0]}{offset[1:3]}:{offset[3:5]}"
        return pattern.replace("{1}", str(day)).replace("{0}", str(clock)) + f" ({zone})"

    def until(self, delta: timedelta) -> str:
        """`in 3 hours`, `через 3 дня`: minutes below an hour, hours below two
        days, then days; rounded, so a 1d reminder sent a second late still
        says 24 hours."""
        seconds = delta.total_seconds()
        if seconds <= 0:
            return self._("now")
        unit: Literal["minute", "hour", "day"] = "minute"
        count = round(seconds / 60)
        if count >= 60:
            count, unit = round(seconds / 3600), "hour"
            if count >= 48:
                count, unit = round(seconds / 86400), "day"
        size = {"minute": 60, "hour": 3600, "day": 86400}[unit]
        return str(
            format_timedelta(
                timedelta(seconds=max(count, 1) * size),
                granularity=unit,
                threshold=1000,  # never a larger unit than chosen here
                add_direction=True,
                locale=self.locale,
            )
        )


def _markdown(template: str, values: dict[str, Any]) -> str:
    return escape_markdown(template.format(**values))


@lru_cache(maxsize=16)
def texts(lang: str | None) -> Texts:
    """The words for `lang`; English for a language the bot does not speak."""
    return Texts(lang if lang in LANGUAGES else DEFAULT)


def spoken(lang: str | None) -> str | None:
    """`lang` if it is one of the bot's languages (`de-AT` counts as `de`)."""
    if not lang:
        return None
    base = lang.lower().replace("_", "-").split("-", 1)[0]
    return base if base in LANGUAGES else None
