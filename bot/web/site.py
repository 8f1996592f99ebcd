"""Every public file of the web face, by name: what the server serves and what
`strikewire site -o DIR` writes, rendered by the same function, so a static
mirror is byte for byte what the bot serves.

Names: `index.html` and `index.<lang>.html` (the front page in the default and
every other language), `u/<id>.html` and `u/<id>.<lang>.html`, `feed.xml` and
`feed.<lang>.xml`, `pickets.ics`, `style.css`, `favicon.svg`, `404.html` (for
static hosts), and `m/<sha256>.<ext>`: the stripped copy of each file a
published update carries (bot/media), nothing else from the cache folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

from bot.adapters.base import Adapter
from bot.content.catalog import Catalog
from bot.content.items import Kind
from bot.i18n import LANGUAGES
from bot.media.types import Media
from bot.pickets.ics import calendar_bytes
from bot.store import KeyValue
from bot.web.feed import NOTHING_YET, feed_bytes, revised
from bot.web.pages import (
    Link,
    error_page,
    index_page,
    media_name,
    published,
    suffix,
    update_page,
)

HTML = "text/html; charset=utf-8"
TYPES = {
    "html": HTML,
    "xml": "application/atom+xml; charset=utf-8",
    "ics": "text/calendar; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "pdf": "application/pdf",
}
STATIC = ("style.css", "favicon.svg")
# The adapters' subscribe links, kept in the database by the running bot so
# `strikewire site` writes the same page without reaching Telegram.
FOLLOW_KEY = "follow"  # in PrefixedState(store, "web")
PLATFORM_NAMES = {"telegram": "Telegram", "matrix": "Matrix"}
_PAGE = re.compile(r"(index|feed)(?:\.([a-z]{2,3}))?\.(html|xml)")
_UPDATE = re.compile(r"u/([a-z0-9][a-z0-9_-]*)(?:\.([a-z]{2,3}))?\.html")
_MEDIA = re.compile(r"m/[0-9a-f]{64}\.(?:jpg|png|webp|pdf)")


@dataclass(frozen=True)
class File:
    content: bytes
    content_type: str


@dataclass
class Site:
    catalog: Catalog
    default_lang: str
    base_url: str
    # Where to follow the bot in a chat (platform name, link), from the adapters.
    follow: Sequence[Link] = field(default_factory=list)

    @property
    def root(self) -> str:
        """The site's path on its host: `/`, or `/news/` behind a proxy's sub-path."""
        return urlsplit(self.base_url).path.rstrip("/") + "/"

    def language(self, code: str | None) -> str | None:
        """The language a file name's `.xx` part names (no part: the default);
        None for a code that is not another of the bot's languages."""
        if code is None:
            return self.default_lang
        if code in LANGUAGES and code != self.default_lang:
            return code
        return None

    def names(self, now: datetime) -> list[str]:
        """Every file of the site now."""
        langs = list(LANGUAGES)
        names = [*STATIC, "pickets.ics", "404.html"]
        for lang in langs:
            ending = suffix(lang, self.default_lang)
            names += [f"index{ending}.html", f"feed{ending}.xml"]
            names += [f"u/{item.id}{ending}.html" for item in published(self.catalog, now)]
        names += list(self.media(now))
        return sorted(set(names))

    def media(self, now: datetime) -> dict[str, Media]:
        """The stripped copies the published updates carry, by their site name."""
        return {media_name(m): m for item in published(self.catalog, now) for m in item.media}

    def media_file(self, name: str, now: datetime) -> Media | None:
        """The stripped copy called `name` (`m/<sha256>.jpg`), if a published
        update carries it: a withdrawn update's files are gone with it."""
        if _MEDIA.fullmatch(name) is None:
            return None
        return self.media(now).get(name)

    def render(self, name: str, now: datetime) -> File | None:
        """The file called `name`, or None when there is none (a 404)."""
        kind = name.rsplit(".", 1)[-1]
        if name in STATIC:
            return File(files("bot.web").joinpath(f"static/{name}").read_bytes(), TYPES[kind])
        if name == "pickets.ics":
            return File(self.calendar(now), TYPES[kind])
        if name == "404.html":
            return File(self.not_found(self.default_lang), HTML)
        media = self.media_file(name, now)
        if media is not None:
            return File(media.read(), media.mime)
        page = _PAGE.fullmatch(name)
        if page is not None:
            what, code, ext = page.groups()
            lang = self.language(code)
            if lang is None or (what == "index") != (ext == "html"):
                return None
            if what == "index":
                body = index_page(
                    self.catalog, lang, self.default_lang, now, self.follow, self.base_url
                )
            else:
                body = feed_bytes(self.catalog, lang, self.default_lang, now, self.base_url)
            return File(body, TYPES[ext])
        update = _UPDATE.fullmatch(name)
        if update is not None:
            item_id, code = update.groups()
            lang = self.language(code)
            item = self.catalog.items.get(item_id)
            if lang is None or item is None or item.published_at > now:
                return None
            return File(update_page(item, lang, self.default_lang, self.base_url), HTML)
        return None

    def calendar(self, now: datetime) -> bytes:
        """The pickets' .ics (bot/pickets/ics.py, as /calendar sends it), stamped
        with when the newest picket file changed, not with the time of asking."""
        pickets = [i for i in published(self.catalog, now) if i.kind is Kind.PICKET]
        stamp = max((revised(self.catalog, i) for i in pickets), default=NOTHING_YET)
        return calendar_bytes(pickets, stamp.astimezone(UTC))

    def not_found(self, lang: str) -> bytes:
        return error_page(lang, self.default_lang, self.root, 404)

    def error(self, lang: str) -> bytes:
        return error_page(lang, self.default_lang, self.root, 500)


def follow_links(pairs: Sequence[tuple[str, str]]) -> list[Link]:
    return [Link(PLATFORM_NAMES.get(p, p.capitalize()), href) for p, href in pairs]


def channel_links(follow: Sequence[str]) -> list[tuple[str, str]]:
    """(platform, href) for channel-only mode's `privacy.follow` places: Matrix
    aliases and room ids become matrix.to links; other non-links are skipped."""
    pairs = []
    for place in follow:
        if place.startswith(("#", "!")) and ":" in place:
            pairs.append(("matrix", "https://matrix.to/#/" + place))
        elif place.startswith(("https://", "http://")):
            pairs.append(("telegram" if "//t.me/" in place else "web", place))
    return pairs


async def save_follow(
    state: KeyValue, adapters: Sequence[Adapter], channels: Sequence[str] | None = None
) -> list[Link]:
    """The adapters' subscribe links (in channel-only mode: the `channels` to
    follow), kept for `strikewire site`; returned as links."""
    if channels is not None:
        pairs = channel_links(channels)
    else:
        pairs = [(a.platform, link) for a in adapters if (link := a.subscribe_link())]
    await state.set(FOLLOW_KEY, json.dumps(pairs))
    return follow_links(pairs)


async def saved_follow(state: KeyValue) -> list[Link]:
    """The subscribe links the bot last kept (none before its first start)."""
    raw = await state.get(FOLLOW_KEY)
    try:
        pairs = json.loads(raw) if raw else []
        return follow_links([(str(p), str(h)) for p, h in pairs])
    except (ValueError, TypeError):
        return []


def is_site_name(name: str) -> bool:
    """Whether `name` (a path under the site's root) is one the site may write."""
    return (
        name in (*STATIC, "pickets.ics", "404.html")
        or _PAGE.fullmatch(name) is not None
        or _UPDATE.fullmatch(name) is not None
        or _MEDIA.fullmatch(name) is not None
    )


def write_site(site: Site, directory: Path, now: datetime) -> int:
    """Write every file of `site` under `directory` (bot/web/mirror.py swaps
    it in as the mirror); return how many."""
    count = 0
    for name in site.names(now):
        found = site.render(name, now)
        if found is None:
            continue
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(found.content)
        count += 1
    return count
