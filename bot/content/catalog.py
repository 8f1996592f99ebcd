"""The catalog: every valid update in `updates/`, indexed by id and language.

`Catalog.load` reads the whole folder; `Catalog.reload` reads it again and says
what was added, changed, removed and withdrawn. Files that fail validation are
kept as problems, never as items, and never stop the others from loading.
Withdrawn items (`withdrawn:` in their front matter) are kept apart in
`withdrawn`: nothing that reads `items` (commands, broadcasts, reminders, the
calendar) sees them, and the delivery side takes back what was sent of them.

Reading, parsing and validating (`scan`) changes nothing of the catalog, so
the bot runs it in a worker thread (`reload_async`): with thousands of files
a reload takes seconds, and answers must not wait for it. Only the swap of
the result happens on the event loop, and one reload runs at a time, so each
sees the files as they are after the one before.

Besides each file's own rules, the catalog refuses what would hurt readers: a
file larger than `MAX_FILE_BYTES`, a link that leads out of `updates/`, and
an update the `too_long` hook refuses: whoever builds the catalog passes
bot/render/parts.py's `part_limit(broadcast.max_parts)` (counting Telegram
messages is render's job, and content imports nothing of render).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.content.items import Item, Kind, Translation
from bot.content.loader import Parsed, is_update_file, parse_file
from bot.content.media_refs import attach_media, translation_media_problem
from bot.content.notices import dangling_link, ignored_name
from bot.limits import MAX_DOCUMENT_BYTES
from bot.media.files import MediaFiles
from bot.problems import Problem

# Far more than any bulletin needs; a larger file is a mistake (a pasted log,
# a binary) that would reach every reader as thousands of messages.
MAX_FILE_BYTES = MAX_DOCUMENT_BYTES

# Why an item is too long for the readers (None: it is not). Tests and tools
# that build a catalog without one skip the check.
TooLong = Callable[[Item], Problem | None]


def too_big(size: int) -> str | None:
    """Why a file of `size` bytes is refused, or None."""
    if size <= MAX_FILE_BYTES:
        return None
    return (
        f"is {size / 1024 / 1024:.1f} MB; an update file may be at most "
        f"{MAX_FILE_BYTES // 1024 // 1024} MB (split it into several updates)"
    )


def _misfit(path: Path, tr: Translation, base: Item) -> Problem | None:
    """Why a translation does not fit its base file (places, media), or None."""
    if tr.places is not None and len(tr.places) != len(base.places):
        return Problem(
            path,
            1,
            f"places: a translation must list the same {len(base.places)} places as {base.path}",
        )
    return translation_media_problem(path, tr, base)


@dataclass(frozen=True)
class Changes:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()  # gone from `items`: deleted files and withdrawn items
    withdrawn: tuple[str, ...] = ()  # newly withdrawn

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.withdrawn)


@dataclass(frozen=True)
class Scan:
    """What one reading of the folder found: every valid item (withdrawn
    ones too) and every problem. Built off the event loop, swapped in on it."""

    found: dict[str, Item]
    problems: list[Problem]
    warnings: list[Problem]


@dataclass
class Catalog:
    directory: Path
    zone: ZoneInfo
    default_lang: str = "en"
    # The length rule (bot/render/parts.py `part_limit(broadcast.max_parts)`).
    too_long: TooLong | None = None
    # Checks and strips the files `media:` names (bot/media/files.py): the
    # bot gives it its cache folder; without one, a temporary folder.
    media_files: MediaFiles = field(default_factory=MediaFiles)
    items: dict[str, Item] = field(default_factory=dict)
    withdrawn: dict[str, Item] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # Files in the folder that are not read (names, dangling links): shown by
    # `check` and reported to admins, but no file is invalid for them.
    warnings: list[Problem] = field(default_factory=list)
    # One reload at a time: a second waits, then reads the folder afresh.
    _reloading: asyncio.Lock = field(
        default_factory=asyncio.Lock, init=False, repr=False, compare=False
    )

    def _read(self, warnings: list[Problem]) -> list[Parsed]:
        """Every update file parsed; names and links it skips go to `warnings`."""
        if not self.directory.is_dir():
            return []
        parsed = []
        for path in sorted(self.directory.rglob("*")):
            if not is_update_file(path):
                self._warn_ignored(path, warnings)
                continue
            if not path.is_file():
                if path.is_symlink():
                    warnings.append(
                        Problem(self._shown(path), 0, dangling_link(path), warning=True)
                    )
                continue
            refused = self._refuse(path)
            if refused is not None:
                parsed.append(Parsed(path, problems=(Problem(self._shown(path), 0, refused),)))
                continue
            try:
                raw = path.read_bytes()
            except OSError as exc:
                parsed.append(
                    Parsed(path, problems=(Problem(path, 0, f"cannot be read: {exc.strerror}"),))
                )
                continue
            parsed.append(
                self._with_media(
                    parse_file(self._shown(path), raw, self.zone, self.default_lang), path, warnings
                )
            )
        return parsed

    def _with_media(self, parsed: Parsed, real: Path, warnings: list[Problem]) -> Parsed:
        """`parsed` with its media checked and stripped; refused when one is."""
        if parsed.item is None or not parsed.item.media_refs:
            return parsed
        item, problems = attach_media(parsed.item, real, self.directory, self.media_files)
        warnings.extend(p for p in problems if p.warning)
        if item is None:
            return Parsed(parsed.path, problems=tuple(p for p in problems if not p.warning))
        return replace(parsed, item=item)

    def _warn_ignored(self, path: Path, warnings: list[Problem]) -> None:
        """A skipped name that looks meant as an update, outside hidden folders."""
        hidden = any(part.startswith(".") for part in path.relative_to(self.directory).parts)
        if hidden or path.is_dir():
            return
        why = ignored_name(path.name)
        if why is not None:
            warnings.append(Problem(self._shown(path), 0, why, warning=True))

    def _refuse(self, path: Path) -> str | None:
        """Why a file must not be read at all, or None."""
        real = path.resolve()
        if not real.is_relative_to(self.directory.resolve()):
            return (
                f"is a link to {real}, outside {self.directory.name}/ "
                "(copy the file into the folder instead of linking to it)"
            )
        try:
            size = real.stat().st_size
        except OSError as exc:  # gone between the listing and now
            return f"cannot be read: {exc.strerror}"
        return too_big(size)

    def _too_long(self, item: Item) -> Problem | None:
        return None if self.too_long is None else self.too_long(item)

    def _shown(self, path: Path) -> Path:
        # Paths in messages are as an organiser sees them: updates/x.md.
        try:
            return Path(self.directory.name) / path.relative_to(self.directory)
        except ValueError:
            return path

    def _index(self, parsed: list[Parsed]) -> tuple[dict[str, Item], list[Problem]]:
        items: dict[str, Item] = {}
        problems: list[Problem] = []
        by_stem: dict[str, str] = {}
        translations: list[tuple[Parsed, Translation]] = []
        for entry in parsed:
            problems.extend(entry.problems)
            if entry.item is not None:
                item = entry.item
                if item.id in items:
                    first = items[item.id].path
                    problems.append(
                        Problem(
                            entry.path,
                            1,
                            f"id {item.id!r} is already used by "
                            f"{first} (give each update its own id)",
                        )
                    )
                    continue
                items[item.id] = item
                by_stem[entry.path.name.removesuffix(".md")] = item.id
            elif entry.translation is not None:
                translations.append((entry, entry.translation))
        for entry, tr in translations:
            base_id = by_stem.get(entry.translation_of or "")
            if base_id is None:
                problems.append(
                    Problem(
                        entry.path,
                        1,
                        f"is a translation ({tr.lang}) but "
                        f"{entry.translation_of}.md does not exist or is invalid "
                        "(add the base file first)",
                    )
                )
                continue
            base = items[base_id]
            wrong = _misfit(entry.path, tr, base)
            if wrong is not None:
                problems.append(wrong)
                continue
            merged = {**base.translations, tr.lang: tr}
            items[base_id] = replace(
                base, translations=merged, digest=base.digest + tr.path.name + str(hash(tr))
            )
        for item_id, item in list(items.items()):
            too_long = self._too_long(item)
            if too_long is not None:
                problems.append(too_long)
                del items[item_id]
        return items, problems

    def _set(self, found: dict[str, Item]) -> None:
        self.items = {i: item for i, item in found.items() if item.withdrawn is None}
        self.withdrawn = {i: item for i, item in found.items() if item.withdrawn is not None}

    def scan(self) -> Scan:
        """Read and validate the whole folder. Blocking (files, YAML, rendering
        to count parts) and free of side effects on the catalog, so it may
        run in a worker thread while the loop keeps answering."""
        warnings: list[Problem] = []
        found, problems = self._index(self._read(warnings))
        return Scan(found, problems, warnings)

    def load(self) -> Catalog:
        self.swap(self.scan())
        return self

    def reload(self) -> Changes:
        """Read the folder again; return what changed since the last load."""
        return self.swap(self.scan())

    async def reload_async(self) -> Changes:
        """`reload` with the reading done in a worker thread; one at a time."""
        async with self._reloading:
            scanned = await asyncio.to_thread(self.scan)
            return self.swap(scanned)

    def swap(self, scanned: Scan) -> Changes:
        """Put what a scan found in place; return what changed. Quick: on the loop."""
        old, old_all, old_withdrawn = self.items, self.everything(), self.withdrawn
        found = scanned.found
        self.problems = scanned.problems
        self.warnings = scanned.warnings
        self._set(found)
        added = tuple(sorted(set(self.items) - set(old)))
        removed = tuple(sorted(set(old) - set(self.items)))
        changed = tuple(
            sorted(i for i in set(old_all) & set(found) if old_all[i].digest != found[i].digest)
        )
        withdrawn = tuple(sorted(set(self.withdrawn) - set(old_withdrawn)))
        return Changes(added, changed, removed, withdrawn)

    def everything(self) -> dict[str, Item]:
        """Every valid item, withdrawn ones included (the delivery side needs both)."""
        return {**self.items, **self.withdrawn}

    # Queries the commands and the scheduler use.

    def latest_news(self, now: datetime, limit: int = 3) -> list[Item]:
        published = [i for i in self.items.values() if i.published_at <= now]
        return sorted(published, key=lambda i: (i.published_at, i.id), reverse=True)[:limit]

    def active_appeals(self, today: date, now: datetime) -> list[Item]:
        found = [
            i for i in self.items.values() if i.is_active_appeal(today) and i.published_at <= now
        ]
        return sorted(found, key=lambda i: (i.date, i.id), reverse=True)

    def upcoming_pickets(self, now: datetime) -> list[Item]:
        found = [i for i in self.items.values() if i.is_upcoming_picket(now)]
        return sorted(found, key=lambda i: (i.starts or now, i.id))

    def campaigns(self) -> list[str]:
        return sorted({c for i in self.items.values() for c in i.campaigns})

    def by_file(self, name: str) -> Item | None:
        """The item a file name holds, in that file's language (translations too)."""
        for item in self.everything().values():
            if item.path.name == name:
                return item
            for lang, tr in item.translations.items():
                if tr.path.name == name:
                    return item.in_language(lang)
        return None

    def of_kind(self, kind: Kind) -> Iterable[Item]:
        return (i for i in self.items.values() if i.kind is kind)

    # Drafts from the chat: checked exactly like a file in the folder.

    def check_text(self, stem: str, raw: bytes) -> tuple[Item | None, list[Problem]]:
        """Validate `raw` as the file `updates/<stem>.md` would be by `strikewire
        check`: size, front matter, body, kind rules, length in messages."""
        path = Path(self.directory.name) / f"{stem}.md"
        refused = too_big(len(raw))
        if refused:
            return None, [Problem(path, 0, refused)]
        real = self.directory / f"{stem}.md"
        parsed = self._with_media(parse_file(path, raw, self.zone, self.default_lang), real, [])
        if parsed.item is None:
            return None, list(parsed.problems)
        too_long = self._too_long(parsed.item)
        return (None, [too_long]) if too_long else (parsed.item, [])

    def file_of(self, item_id: str) -> Path | None:
        """The real path of an item's base file (withdrawn items too)."""
        item = self.everything().get(item_id)
        if item is None:
            return None
        try:
            return self.directory / item.path.relative_to(self.directory.name)
        except ValueError:
            return item.path
