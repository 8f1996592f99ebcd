"""The bot's texts in its six languages: every catalogue complete, placeholders
intact, nothing stale against the source, plural forms and dates right."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog as PoCatalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from bot.i18n import LANGUAGES, LOCALES, texts

ROOT = Path(__file__).parent.parent
TRANSLATED = [lang for lang in LANGUAGES if lang != "en"]
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalogue(lang: str) -> PoCatalog:
    with (LOCALES / lang / "LC_MESSAGES" / "strikewire.po").open("rb") as f:
        return read_po(f, locale=lang)


def texts_of(value: Any) -> tuple[str, ...]:
    """A message's id or string as a tuple (one entry, or one per plural form)."""
    return (value,) if isinstance(value, str) else tuple(value)


def ids(cat: PoCatalog) -> set[tuple[str, ...]]:
    return {texts_of(m.id) for m in cat if m.id}


def extract(tmp_path: Path) -> PoCatalog:
    """What `pybabel extract` finds in the source now (docs/translating.md)."""
    out = tmp_path / "fresh.pot"
    CommandLineInterface().run(  # type: ignore[no-untyped-call]
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "N_",
            "-k",
            "md",
            "-k",
            "nmd:1,2",
            "--no-location",
            "--sort-output",
            "--omit-header",
            "-o",
            str(out),
            str(ROOT),
        ]
    )
    with out.open("rb") as f:
        return read_po(f)


def test_the_template_and_every_catalogue_match_the_source(tmp_path: Path) -> None:
    fresh = ids(extract(tmp_path))
    with (LOCALES / "strikewire.pot").open("rb") as f:
        template = ids(read_po(f))
    assert fresh == template, (
        f"stale template: new {sorted(map(str, fresh - template))}, "
        f"gone {sorted(map(str, template - fresh))}; run the extract and update commands in "
        "docs/translating.md"
    )
    for lang in TRANSLATED:
        assert ids(catalogue(lang)) == template, f"{lang}: run pybabel update"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_text_is_translated_with_the_same_placeholders(lang: str) -> None:
    cat = catalogue(lang)
    plurals = cat.num_plurals
    for message in cat:
        if not message.id:
            continue
        assert not message.fuzzy, f"{lang}: {message.id!r} is marked fuzzy"
        originals, strings = texts_of(message.id), texts_of(message.string)
        if len(originals) > 1:
            assert len(strings) == plurals, f"{lang}: {message.id!r} needs {plurals} forms"
        wanted = set(PLACEHOLDER.findall(" ".join(originals)))
        for text in strings:
            assert text, f"{lang}: {message.id!r} is not translated"
            found = set(PLACEHOLDER.findall(text))
            # A plural form may leave {count} out ("one day" in a language
            # that says it without the number); nothing else may differ.
            assert found - wanted == set(), f"{lang}: {message.id!r} has {found - wanted}"
            assert wanted - found <= {"count"}, f"{lang}: {message.id!r} lacks {wanted - found}"


def test_russian_has_three_plural_forms() -> None:
    t = texts("ru")
    forms = {
        n: t.ngettext(
            "The pickets as a calendar file: {count} event, one per place, in local time.",
            "The pickets as a calendar file: {count} events, one per place, in local time.",
            n,
        )
        for n in (1, 3, 5, 21)
    }
    assert len({forms[1], forms[3].replace("3", "1"), forms[5].replace("5", "1")}) == 3
    assert forms[21].replace("21", "1") == forms[1]


def test_dates_and_durations_in_the_readers_language() -> None:
    berlin = datetime(2027, 3, 6, 12, tzinfo=ZoneInfo("Europe/Berlin"))
    assert texts("de").moment(berlin) == "Sa., 6. März 2027, 12:00 (UTC+01:00)"
    assert texts("en").moment(berlin) == "Sat, March 6, 2027, 12:00 (UTC+01:00)"
    assert "марта" in texts("ru").moment(berlin)
    assert texts("ru").until(timedelta(days=3)) == "через 3 дня"
    assert texts("de").until(timedelta(hours=3)) == "in 3 Stunden"
    assert texts("sv").long_date(date(2027, 3, 6)).startswith("lör")
    assert texts("kk").until(timedelta(days=7)) == "7 күннен кейін"
    assert texts("uk").until(timedelta(minutes=30)) == "через 30 хвилин"
    assert texts("xx").lang == "en"  # a language the bot does not speak: English
