"""What each public page shows, in the reader's language, rendered by the
Jinja2 templates in `templates/` (autoescaping on: data from files is text).

The front page (latest updates, active appeals with their addresses, upcoming
pickets with each place's local time), one update's page, and the error page.
Only items whose moment has come are shown; withdrawn items are not in
`Catalog.items` at all. A page holds no current time (the server and
`strikewire site` render the same bytes) and no script.

Links between pages are relative and name the language in the file name
(`u/<id>.ru.html`), so the same files work on the bot's own server, under a
sub-path behind a proxy, and on any static host.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import jinja2
from markupsafe import Markup

from bot.cleantext import clean
from bot.content.catalog import Catalog
from bot.content.items import Item, Kind
from bot.i18n import LANGUAGES, Texts, texts
from bot.media.types import Media, MediaKind
from bot.render.compose import as_read, excerpt
from bot.web.markup import to_html

LATEST = 10

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("bot.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def suffix(lang: str, default: str) -> str:
    """The language part of a file name: "" for the default language, ".ru" else."""
    return "" if lang == default else f".{lang}"


def words(t: Texts) -> dict[str, str]:
    """The pages' own texts in `t`'s language (placeholders are filled in Python)."""
    return {
        "title": t._("News, appeals and pickets"),
        "latest": t._("Latest updates"),
        "appeals": t._("Active appeals"),
        "pickets": t._("Upcoming pickets"),
        "no_updates": t._("No updates yet."),
        "no_appeals": t._("There are no active appeals right now."),
        "no_pickets": t._("No pickets are planned right now."),
        "follow": t._("Follow the updates"),
        "follow_chat": t._("Receive every update in a chat:"),
        "feed": t._("Atom feed, for any feed reader"),
        "calendar": t._("The pickets as a calendar file (.ics)"),
        "languages": t._("Languages"),
        "also_in": t._("Also in:"),
        "front": t._("Back to the front page"),
        "not_found": t._("Page not found"),
        "not_found_text": t._("There is no such page, or the update was withdrawn."),
        "error": t._("Something went wrong"),
        "error_text": t._("Sorry, something went wrong on my side. Please try again later."),
    }


@dataclass(frozen=True)
class Link:
    label: str
    href: str
    lang: str | None = None


@dataclass(frozen=True)
class PlaceView:
    city: str
    where: str
    local: str  # the place's own date, time and UTC offset, in the reader's words
    iso: str


@dataclass(frozen=True)
class AddressView:
    label: str
    text: str
    note: str | None


# The file name of each type of stripped copy under `m/`.
MEDIA_SUFFIXES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
MEDIA_SUFFIXES["application/pdf"] = "pdf"


def media_name(media: Media) -> str:
    """Where the site serves a stripped copy: `m/<sha256>.<ext>`. Named by
    its bytes, so a changed picture is a new address (cached for ever)."""
    return f"m/{media.digest}.{MEDIA_SUFFIXES[media.mime]}"


@dataclass(frozen=True)
class MediaView:
    href: str
    name: str
    alt: str
    photo: bool  # shown in the page; False: a link (a PDF, a photo too big for phones)
    width: int | None
    height: int | None
    size: str  # "240 KB"


def _media_view(media: Media, root: str) -> MediaView:
    kb = max(1, round(media.size / 1024))
    size = f"{kb} KB" if kb < 1024 else f"{media.size / 1024 / 1024:.1f} MB"
    return MediaView(
        f"{root}{media_name(media)}",
        media.name,
        media.alt,
        media.kind is MediaKind.PHOTO,
        media.width,
        media.height,
        size,
    )


@dataclass(frozen=True)
class ItemView:
    id: str
    kind: str
    lang: str
    title: str
    date: str
    date_iso: str
    body: Markup
    summary: Markup
    href: str
    addresses: tuple[AddressView, ...]
    until: str | None
    places: tuple[PlaceView, ...]
    correction: str | None
    untranslated: str | None
    also_in: tuple[Link, ...]
    media: tuple[MediaView, ...] = ()


def item_view(item: Item, lang: str, default: str, root: str) -> ItemView:
    """`item` as a reader of `lang` gets it, with links relative to `root`."""
    local, t = as_read(item, lang, default)
    addresses = tuple(
        AddressView(a.label, "\n".join(x.strip() for x in (a.postal, a.email) if x), a.note)
        for a in local.addresses
    )
    until = (
        t._("Until {date}", date=t.long_date(local.expires))
        if local.kind is Kind.APPEAL and local.expires
        else None
    )
    places = tuple(
        PlaceView(place.city, place.where, t.moment(start), start.isoformat())
        for place, start in local.place_starts()
    )
    versions = [item.lang, *sorted(item.translations)]
    also_in = tuple(
        Link(LANGUAGES[v], f"{root}u/{item.id}{suffix(v, default)}.html", v)
        for v in versions
        if v in LANGUAGES and v != lang
    )
    return ItemView(
        id=item.id,
        kind=str(local.kind),
        lang=local.lang,
        title=local.title,
        date=t.long_date(local.date),
        date_iso=local.date.isoformat(),
        body=to_html(local.body),
        summary=to_html(excerpt(local, 300)),
        href=f"{root}u/{item.id}{suffix(lang, default)}.html",
        addresses=addresses,
        until=until,
        places=places,
        correction=(
            t._("Corrected: {correction}", correction=local.correction)
            if local.correction
            else None
        ),
        untranslated=(
            t._("No translation in {language} yet; here is the original.", language=t.name)
            if local.lang != t.lang
            else None
        ),
        also_in=also_in,
        media=tuple(_media_view(m, root) for m in local.media),
    )


def _html(template: str, context: dict[str, object]) -> bytes:
    """A page's bytes, without the control characters no page may carry
    (bot/cleantext.py): whatever a file brought in, the page is valid."""
    return clean(TEMPLATES.get_template(template).render(context)).encode()


def published(catalog: Catalog, now: datetime) -> list[Item]:
    """Every item a reader may see now: not withdrawn, its moment come."""
    return [i for i in catalog.items.values() if i.published_at <= now]


def _frame(lang: str, default: str, root: str, page: str) -> dict[str, object]:
    """What every page has: words, stylesheet, feed and language links."""
    t = texts(lang)
    return {
        "lang": lang,
        "w": words(t),
        "root": root,
        "home": f"{root}index{suffix(lang, default)}.html",
        "feed": f"{root}feed{suffix(lang, default)}.xml",
        "languages": [
            Link(name, f"{root}{page}{suffix(code, default)}.html", code)
            for code, name in LANGUAGES.items()
        ],
    }


def index_page(
    catalog: Catalog,
    lang: str,
    default: str,
    now: datetime,
    follow: Sequence[Link],
    base_url: str,
) -> bytes:
    """`/`: the latest updates, the active appeals, the upcoming pickets."""
    today = now.astimezone(catalog.zone).date()
    latest = catalog.latest_news(now, LATEST)
    appeals = catalog.active_appeals(today, now)
    pickets = [p for p in catalog.upcoming_pickets(now) if p.published_at <= now]
    context = _frame(lang, default, "", "index")
    context.update(
        latest=[item_view(i, lang, default, "") for i in latest],
        appeals=[item_view(i, lang, default, "") for i in appeals],
        pickets=[item_view(i, lang, default, "") for i in pickets],
        follow=follow,
        canonical=f"{base_url}/index{suffix(lang, default)}.html",
    )
    return _html("index.html", context)


def update_page(item: Item, lang: str, default: str, base_url: str) -> bytes:
    """`/u/<id>`: one update in full, its other languages linked."""
    context = _frame(lang, default, "../", f"u/{item.id}")
    context.update(
        item=item_view(item, lang, default, "../"),
        canonical=f"{base_url}/u/{item.id}{suffix(lang, default)}.html",
    )
    # The language links of an update page lead to the update in that language.
    context["languages"] = [
        Link(name, f"{item.id}{suffix(code, default)}.html", code)
        for code, name in LANGUAGES.items()
    ]
    return _html("update.html", context)


def error_page(lang: str, default: str, root: str, status: int) -> bytes:
    """The 404 and 500 pages; `root` is the site's path (`/` or `/news/`)."""
    context = _frame(lang, default, root, "index")
    w = context["w"]
    assert isinstance(w, dict)
    if status == 404:
        context.update(heading=w["not_found"], text=w["not_found_text"])
    else:
        context.update(heading=w["error"], text=w["error_text"])
    return _html("error.html", context)
