"""What an update file means: the front-matter schema and the `Item` it becomes.

Three kinds: `news`, `appeal` (addresses to write to, listed until `expires`)
and `picket` (a coordinated day: `starts`, places with local times, reminder
offsets). A translation (`NAME.LANG.md`) carries its own title and body and
inherits everything else from its base file.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bot.durations import parse_duration
from bot.media.types import Media

# A title is a headline: a longer one is a body pasted on the title line.
MAX_TITLE = 200
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
LANG = re.compile(r"^[a-z]{2,3}$")


class Kind(enum.StrEnum):
    NEWS = "news"
    APPEAL = "appeal"
    PICKET = "picket"


def _slug(value: Any) -> str:
    text = str(value)
    if not SLUG.match(text):
        raise ValueError(f"{text!r} is not a valid id (use lower-case letters, digits, - and _)")
    return text


def _zone(value: Any) -> str:
    text = str(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{text!r} is not a known time zone (use an IANA name such as Europe/Berlin)"
        ) from None
    return text


def _clock_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 12:00 as the sexagesimal number 720.
        hours, minutes = divmod(value, 60)
        if 0 <= hours < 24:
            return time(hours, minutes)
    text = str(value).strip()
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if match and int(match[1]) < 24 and int(match[2]) < 60:
        return time(int(match[1]), int(match[2]))
    raise ValueError(f"{value!r} is not a time of day (use 24-hour HH:MM, such as 12:00)")


def _durations(value: Any) -> list[timedelta]:
    if not isinstance(value, list):
        value = [value]
    return [v if isinstance(v, timedelta) else parse_duration(str(v)) for v in value]


def _withdrawn(value: Any) -> str | None:
    """`withdrawn: true` (no reason), `withdrawn: "reason"`, or false/absent."""
    if value is None or value is False:
        return None
    if value is True:
        return ""
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError(f"{value!r} must be true, false or a reason in quotes")


# Dates beyond these are typos; at the edges of `datetime` a time-zone shift
# or a reminder offset would overflow.
_YEARS = range(1900, 9999)


def _in_range(value: Any, parsed: dt.date) -> None:
    if parsed.year not in _YEARS:
        raise ValueError(f"{value!r} is out of range (a year from 1900 to 9998)")


def _date(value: Any) -> dt.date:
    if isinstance(value, datetime):
        parsed = value.date()
    elif isinstance(value, dt.date):
        parsed = value
    else:
        try:
            parsed = dt.date.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"{value!r} is not a date (use YYYY-MM-DD)") from None
    _in_range(value, parsed)
    return parsed


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, dt.date):
        raise ValueError(f"{value!r} has no time of day (use 2027-03-06T12:00:00+05:00)")
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError(
                f"{value!r} is not a date-time (use 2027-03-06T12:00:00+05:00)"
            ) from None
    _in_range(value, parsed)
    return parsed


Slug = Annotated[str, BeforeValidator(_slug)]
ZoneName = Annotated[str, BeforeValidator(_zone)]
ClockTime = Annotated[time, BeforeValidator(_clock_time)]
Durations = Annotated[list[timedelta], BeforeValidator(_durations)]
Day = Annotated[dt.date, BeforeValidator(_date)]
Moment = Annotated[datetime, BeforeValidator(_datetime)]
Withdrawn = Annotated[str | None, BeforeValidator(_withdrawn)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Address(_Strict):
    label: str = Field(min_length=1)
    postal: str | None = None
    email: str | None = None
    note: str | None = None


class Place(_Strict):
    city: str = Field(min_length=1)
    where: str = Field(min_length=1)
    time: ClockTime
    timezone: ZoneName
    # The coordinated day is the date of `starts`; a place may name another
    # (a city across the date line).
    date: Day | None = None

    def local_start(self, coordinated_day: dt.date) -> datetime:
        """This place's start as an aware datetime in its own time zone."""
        return datetime.combine(self.date or coordinated_day, self.time, ZoneInfo(self.timezone))


class TranslatedPlace(_Strict):
    """A place in a translation: its name and spot in the reader's language.
    When and in which time zone come from the base file's place."""

    city: str = Field(min_length=1)
    where: str = Field(min_length=1)

    def over(self, base: Place) -> Place:
        return base.model_copy(update={"city": self.city, "where": self.where})


def _media_entry(value: Any) -> Any:
    # `- picket.jpg` is short for `- file: picket.jpg`.
    return {"file": value} if isinstance(value, str) else value


class MediaEntry(_Strict):
    """One entry of `media:`: a file beside the update and its description."""

    file: str = Field(min_length=1)
    alt: str | None = Field(default=None, min_length=1, max_length=1000)


class TranslatedMediaEntry(_Strict):
    """A translation's entry: the base file's entry, in order, with its own
    `alt`; `file`, if given, must name the same file."""

    file: str | None = Field(default=None, min_length=1)
    alt: str | None = Field(default=None, min_length=1, max_length=1000)


MediaEntries = list[Annotated[MediaEntry, BeforeValidator(_media_entry)]]
TranslatedMediaEntries = list[Annotated[TranslatedMediaEntry, BeforeValidator(_media_entry)]]


@dataclass(frozen=True)
class MediaRef:
    """An entry as written, with its line: resolved into a `Media` by the catalog."""

    file: str | None
    alt: str | None
    line: int


class FrontMatter(_Strict):
    """The keys a base update file may have."""

    id: Slug | None = None
    kind: Kind
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    date: Day
    lang: str | None = Field(default=None, pattern=LANG.pattern)
    campaigns: list[Slug] = Field(default_factory=list)
    publish_at: Moment | None = None
    protect_content: bool = False
    expires: Day | None = None
    addresses: list[Address] | None = None
    starts: Moment | None = None
    places: list[Place] | None = None
    remind: Durations | None = None
    # Shown under an edited message: what was wrong and is corrected.
    correction: str | None = Field(default=None, min_length=1, max_length=500)
    # Taken back from every chat: None, "" (no reason given) or the reason.
    withdrawn: Withdrawn = None
    # Photos and documents sent with the update (docs/media.md).
    media: MediaEntries | None = None


class TranslationFrontMatter(_Strict):
    """The keys a translation file (`NAME.LANG.md`) may have."""

    title: str = Field(min_length=1, max_length=MAX_TITLE)
    addresses: list[Address] | None = None
    # The base file's places, in order, with their names translated.
    places: list[TranslatedPlace] | None = None
    correction: str | None = Field(default=None, min_length=1, max_length=500)
    # The base file's media, in order, with the alt texts translated.
    media: TranslatedMediaEntries | None = None


@dataclass(frozen=True)
class Translation:
    lang: str
    path: Path
    title: str
    body: str
    addresses: tuple[Address, ...] | None
    places: tuple[TranslatedPlace, ...] | None
    correction: str | None = None
    media: tuple[MediaRef, ...] | None = None


@dataclass(frozen=True)
class Item:
    """One valid update, with its translations."""

    id: str
    kind: Kind
    title: str
    date: dt.date
    body: str
    path: Path
    lang: str
    campaigns: tuple[str, ...] = ()
    publish_at: datetime | None = None
    protect_content: bool = False
    expires: dt.date | None = None
    addresses: tuple[Address, ...] = ()
    starts: datetime | None = None
    places: tuple[Place, ...] = ()
    remind: tuple[timedelta, ...] | None = None
    correction: str | None = None
    withdrawn: str | None = None
    translations: dict[str, Translation] = field(default_factory=dict, compare=False)
    # A digest of the files' bytes: a changed file is a changed item.
    digest: str = ""
    # The line of each front-matter key in the base file, for warnings.
    key_lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    # The stripped files sent with the update, and the entries they came from.
    media: tuple[Media, ...] = ()
    media_refs: tuple[MediaRef, ...] = field(default=(), compare=False, repr=False)

    @property
    def published_at(self) -> datetime:
        """When the item becomes broadcastable; its dt.date at midnight UTC without publish_at."""
        if self.publish_at is not None:
            return self.publish_at
        return datetime.combine(self.date, time(0), ZoneInfo("UTC"))

    def in_language(self, lang: str | None) -> Item:
        """This item as a reader of `lang` should see it (the base if no translation)."""
        if not lang or lang == self.lang or lang not in self.translations:
            return self
        tr = self.translations[lang]
        return Item(
            id=self.id,
            kind=self.kind,
            title=tr.title,
            date=self.date,
            body=tr.body,
            path=tr.path,
            lang=tr.lang,
            campaigns=self.campaigns,
            publish_at=self.publish_at,
            protect_content=self.protect_content,
            expires=self.expires,
            addresses=tr.addresses if tr.addresses is not None else self.addresses,
            starts=self.starts,
            places=(
                tuple(mine.over(base) for mine, base in zip(tr.places, self.places, strict=True))
                if tr.places is not None
                else self.places
            ),
            remind=self.remind,
            correction=tr.correction if tr.correction is not None else self.correction,
            withdrawn=self.withdrawn,
            digest=self.digest,
            media=self._media_in(tr),
        )

    def _media_in(self, tr: Translation) -> tuple[Media, ...]:
        """The media with the translation's alt texts where it gives them."""
        if not tr.media:
            return self.media
        alts = [ref.alt for ref in tr.media] + [None] * len(self.media)
        return tuple(
            dc_replace(m, alt=alt) if alt else m for m, alt in zip(self.media, alts, strict=False)
        )

    def place_starts(self) -> list[tuple[Place, datetime]]:
        """Every place with its local start (pickets only)."""
        if self.starts is None:
            return []
        day = self.starts.date()
        return [(place, place.local_start(day)) for place in self.places]

    def is_active_appeal(self, today: dt.date) -> bool:
        return self.kind is Kind.APPEAL and (self.expires is None or self.expires >= today)

    def is_upcoming_picket(self, now: datetime) -> bool:
        return self.kind is Kind.PICKET and self.starts is not None and self.starts > now
