"""The catalog: every valid update in `updates/`, indexed by id and language.

`Catalog.load` reads the whole folder; `Catalog.reload` reads it again and says
what was added, changed and removed. Files that fail validation are kept as
problems, never as items, and never stop the others from loading.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.items import Item, Kind, Translation
from bot.loader import Parsed, is_update_file, parse_file
from bot.problems import Problem


@dataclass(frozen=True)
class Changes:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclass
class Catalog:
    directory: Path
    zone: ZoneInfo
    default_lang: str = "en"
    items: dict[str, Item] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def _read(self) -> list[Parsed]:
        if not self.directory.is_dir():
            return []
        parsed = []
        for path in sorted(self.directory.rglob("*.md")):
            if not is_update_file(path) or not path.is_file():
                continue
            try:
                raw = path.read_bytes()
            except OSError as exc:
                parsed.append(
                    Parsed(path, problems=(Problem(path, 0, f"cannot be read: {exc.strerror}"),))
                )
                continue
            parsed.append(parse_file(self._shown(path), raw, self.zone, self.default_lang))
        return parsed

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
            if tr.places is not None and len(tr.places) != len(base.places):
                problems.append(
                    Problem(
                        entry.path,
                        1,
                        "places: a translation must list the same "
                        f"{len(base.places)} places as {base.path}",
                    )
                )
                continue
            merged = {**base.translations, tr.lang: tr}
            items[base_id] = replace(
                base, translations=merged, digest=base.digest + tr.path.name + str(hash(tr))
            )
        return items, problems

    def load(self) -> Catalog:
        self.items, self.problems = self._index(self._read())
        return self

    def reload(self) -> Changes:
        """Read the folder again; return what changed since the last load."""
        old = self.items
        self.items, self.problems = self._index(self._read())
        added = tuple(sorted(set(self.items) - set(old)))
        removed = tuple(sorted(set(old) - set(self.items)))
        changed = tuple(
            sorted(i for i in set(old) & set(self.items) if old[i].digest != self.items[i].digest)
        )
        return Changes(added, changed, removed)

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
        for item in self.items.values():
            if item.path.name == name:
                return item
            for lang, tr in item.translations.items():
                if tr.path.name == name:
                    return item.in_language(lang)
        return None

    def of_kind(self, kind: Kind) -> Iterable[Item]:
        return (i for i in self.items.values() if i.kind is kind)
