"""Reading one update file: front matter and body, validated, with every problem
reported at the line of the offending key.

`parse_file` never raises for bad content; it returns the problems instead, so
one broken file never stops the others from loading. Control characters other
than tab and newline (bot/cleantext.py) are refused with their line and
column, in the text as written and in the values YAML escapes make
(`"\\a"`), before anything else is judged.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from bot.cleantext import find_bad_chars
from bot.content.items import (
    LANG,
    SLUG,
    FrontMatter,
    Item,
    Kind,
    MediaEntry,
    MediaRef,
    TranslatedMediaEntry,
    Translation,
    TranslationFrontMatter,
)
from bot.content.yamlpos import YamlError, load_yaml_with_lines
from bot.problems import Loc, Problem, problems_from_validation_error

_FENCE = re.compile(r"^---[ \t]*$", re.MULTILINE)
# A file with a thousand form feeds is one mistake: show the first few.
MAX_BAD_CHARS = 5
_APPEAL_ONLY = ("addresses", "expires")
_PICKET_ONLY = ("starts", "places", "remind")


@dataclass(frozen=True)
class FileName:
    """What the file name says: the stem (default id) and a translation's language."""

    stem: str
    lang: str | None

    @classmethod
    def of(cls, path: Path) -> FileName:
        name = path.name.removesuffix(".md")
        stem, dot, suffix = name.rpartition(".")
        if dot and LANG.match(suffix):
            return cls(stem, suffix)
        return cls(name, None)


@dataclass(frozen=True)
class Parsed:
    """One file's outcome: an item, a translation, or only problems."""

    path: Path
    item: Item | None = None
    translation: Translation | None = None
    translation_of: str | None = None  # the base file's stem
    problems: tuple[Problem, ...] = ()


def is_update_file(path: Path) -> bool:
    """Markdown files that are not hidden, editor backups or partial copies."""
    name = path.name
    return (
        name.endswith(".md")
        and not name.startswith((".", "#", "~"))
        and not name.endswith(("~", ".tmp.md"))
    )


def split_front_matter(text: str) -> tuple[str, str, int] | None:
    """Return (yaml, body, line of the body's first line) or None without front matter."""
    if not text.startswith("---"):
        return None
    first = _FENCE.match(text)
    if first is None:
        return None
    closing = _FENCE.search(text, first.end())
    if closing is None:
        return None
    yaml_text = text[first.end() : closing.start()]
    body = text[closing.end() :]
    body_line = text.count("\n", 0, closing.end()) + 2
    return yaml_text, body, body_line


def _aware(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=zone)


def _kind_rules(fm: FrontMatter, lines: dict[Loc, int]) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []

    def at(key: str) -> int:
        return lines.get((key,), lines.get((), 1))

    given = fm.model_fields_set
    if fm.kind is not Kind.APPEAL:
        found += [
            (at(k), f"{k}: only appeals have {k} (this file is a {fm.kind})")
            for k in _APPEAL_ONLY
            if k in given
        ]
    if fm.kind is not Kind.PICKET:
        found += [
            (at(k), f"{k}: only pickets have {k} (this file is a {fm.kind})")
            for k in _PICKET_ONLY
            if k in given
        ]
    if fm.kind is Kind.APPEAL and not fm.addresses:
        found.append(
            (
                at("addresses" if "addresses" in given else "kind"),
                "addresses: an appeal needs at least one address to write to",
            )
        )
    for index, address in enumerate(fm.addresses or []):
        if not (address.postal or address.email):
            found.append(
                (
                    lines.get(("addresses", index), at("addresses")),
                    f"addresses[{index}]: give a postal address or an email",
                )
            )
    if fm.kind is Kind.PICKET:
        if fm.starts is None:
            found.append(
                (
                    at("kind"),
                    "starts: a picket needs starts "
                    "(the date-time reminders count back from, e.g. 2027-03-06T12:00:00+05:00)",
                )
            )
        if not fm.places:
            found.append(
                (
                    at("places" if "places" in given else "kind"),
                    "places: a picket needs at least one place",
                )
            )
    return found


def _bad_chars(text: str, path: Path) -> tuple[Problem, ...]:
    return tuple(
        Problem(path, bad.line, bad.message()) for bad in find_bad_chars(text, limit=MAX_BAD_CHARS)
    )


def _bad_values(value: Any, loc: Loc, lines: dict[Loc, int], path: Path) -> list[Problem]:
    """Control characters a YAML escape (`"\\e"`, `"\\x07"`) put in a value."""
    if isinstance(value, str):
        found = find_bad_chars(value, limit=1)
        if not found:
            return []
        key = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in loc).replace(".[", "[")
        return [
            Problem(
                path,
                lines.get(loc, 1),
                f"{key}: the control character {found[0].name} is not allowed "
                "(remove the escape that writes it)",
            )
        ]
    items: list[tuple[str | int, Any]] = []
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = list(enumerate(value))
    return [p for k, v in items for p in _bad_values(v, (*loc, k), lines, path)]


def _load(text: str, path: Path) -> tuple[dict[str, Any], dict[Loc, int], str, int] | Problem:
    parts = split_front_matter(text)
    if parts is None and text.startswith("---") and _FENCE.match(text):
        return Problem(
            path,
            1,
            "the front matter has no closing '---' line (after the last key, "
            "write a line holding only '---', then the text)",
        )
    if parts is None:
        return Problem(
            path,
            1,
            "no front matter (start the file with a '---' line, then "
            "kind, title and date, then '---', then the text)",
        )
    yaml_text, body, body_line = parts
    try:
        data, lines = load_yaml_with_lines(yaml_text)
    except YamlError as exc:
        return Problem(path, exc.line, exc.message)
    if not isinstance(data, dict):
        return Problem(path, 2, "the front matter must be 'key: value' lines")
    # The YAML text starts on the opening '---' line, so its line numbers are
    # the file's; a missing key is reported at that opening line.
    lines[()] = 1
    return data, lines, body, body_line


def parse_file(path: Path, raw: bytes, zone: ZoneInfo, default_lang: str) -> Parsed:
    """Validate one update file's bytes."""
    read = _front_matter(path, raw)
    if isinstance(read, Parsed):
        return read
    fm, lines, body, body_line = read
    name = FileName.of(path)
    problems: list[Problem] = []
    if not body.strip():
        problems.append(
            Problem(path, body_line, "the body is empty (write the update below the closing '---')")
        )
    if isinstance(fm, TranslationFrontMatter):
        if problems:
            return Parsed(path, problems=tuple(problems))
        assert name.lang is not None
        tr = Translation(
            lang=name.lang,
            path=path,
            title=fm.title,
            body=body,
            addresses=tuple(fm.addresses) if fm.addresses is not None else None,
            places=tuple(fm.places) if fm.places is not None else None,
            correction=fm.correction,
            media=_refs(fm.media, lines),
        )
        return Parsed(path, translation=tr, translation_of=name.stem)
    problems += [Problem(path, line, msg) for line, msg in _kind_rules(fm, lines)]
    if fm.id is None and not SLUG.match(name.stem):
        problems.append(
            Problem(
                path,
                1,
                f"the file name {name.stem!r} is not a valid id "
                "(rename the file to lower-case letters, digits, - and _, "
                "or give an id: key)",
            )
        )
    if problems:
        return Parsed(path, problems=tuple(problems))
    digest = hashlib.blake2b(raw, digest_size=12).hexdigest()
    item = _item(fm, name.stem, path, body, lines, zone, default_lang, digest)
    return Parsed(path, item=item)


# What `_front_matter` read: the front matter, its keys' lines, the body, its first line.
_Read = tuple[FrontMatter | TranslationFrontMatter, dict[Loc, int], str, int]


def _front_matter(path: Path, raw: bytes) -> _Read | Parsed:
    """The file's validated front matter, where its keys are, its body and the
    body's first line; or the `Parsed` with the problems that stop reading it."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return Parsed(path, problems=(Problem(path, line, "is not UTF-8 text (save it as UTF-8)"),))
    text = text.replace("\r\n", "\n")
    bad = _bad_chars(text, path)
    if bad:
        return Parsed(path, problems=bad)
    loaded = _load(text, path)
    if isinstance(loaded, Problem):
        return Parsed(path, problems=(loaded,))
    data, lines, body, body_line = loaded
    escaped = _bad_values(data, (), lines, path)
    if escaped:
        return Parsed(path, problems=tuple(escaped[:MAX_BAD_CHARS]))
    model: type[FrontMatter | TranslationFrontMatter] = (
        TranslationFrontMatter if FileName.of(path).lang else FrontMatter
    )
    try:
        fm = model.model_validate(data)
    except ValidationError as exc:
        return Parsed(path, problems=tuple(problems_from_validation_error(exc, path, lines)))
    return fm, lines, body.strip("\n"), body_line


def _item(
    fm: FrontMatter,
    stem: str,
    path: Path,
    body: str,
    lines: dict[Loc, int],
    zone: ZoneInfo,
    default_lang: str,
    digest: str,
) -> Item:
    return Item(
        id=fm.id or stem,
        kind=fm.kind,
        title=fm.title,
        date=fm.date,
        body=body,
        path=path,
        lang=fm.lang or default_lang,
        campaigns=tuple(fm.campaigns),
        publish_at=_aware(fm.publish_at, zone),
        protect_content=fm.protect_content,
        expires=fm.expires,
        addresses=tuple(fm.addresses or ()),
        starts=_aware(fm.starts, zone),
        places=tuple(fm.places or ()),
        remind=tuple(fm.remind) if fm.remind is not None else None,
        correction=fm.correction,
        withdrawn=fm.withdrawn,
        digest=digest,
        key_lines={str(loc[0]): line for loc, line in lines.items() if len(loc) == 1},
        media_refs=_refs(fm.media, lines) or (),
    )


def _refs(
    entries: Sequence[MediaEntry | TranslatedMediaEntry] | None, lines: dict[Loc, int]
) -> tuple[MediaRef, ...] | None:
    """The `media:` entries with the line each stands on."""
    if entries is None:
        return None
    at = lines.get(("media",), 1)
    return tuple(
        MediaRef(entry.file, entry.alt, lines.get(("media", index), at))
        for index, entry in enumerate(entries)
    )
