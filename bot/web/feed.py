"""The Atom feed of the published updates, built by feedgen.

One feed per language (`feed.xml` in the default language, `feed.ru.xml`…):
each entry is an update as a reader of that language gets it, in full, with
its addresses and places, and each of its files as an enclosure. An
entry's `updated` is when its file last changed (a correction moves it),
never earlier than its publication; the feed's is the newest entry's, so
the same catalogue gives the same bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from feedgen.feed import FeedGenerator
from lxml import etree  # type: ignore[import-untyped]  # feedgen's own dependency

from bot.cleantext import clean
from bot.content.catalog import Catalog
from bot.content.items import Item
from bot.i18n import texts
from bot.web.pages import TEMPLATES, item_view, media_name, published, suffix, words

ENTRIES = 30
# An empty feed still needs an `updated`: the epoch says "nothing yet".
NOTHING_YET = datetime(1970, 1, 1, tzinfo=UTC)
ATOM = "http://www.w3.org/2005/Atom"


def revised(catalog: Catalog, item: Item) -> datetime:
    """When the item's files last changed (its translations' too), to the second."""
    paths = [item.path, *(tr.path for tr in item.translations.values())]
    times = []
    for shown in paths:
        # Paths are as organisers see them (updates/x.md): beside the folder.
        real = shown if shown.is_absolute() else catalog.directory.parent / shown
        try:
            times.append(real.stat().st_mtime)
        except OSError:
            continue
    changed = datetime.fromtimestamp(int(max(times, default=0)), UTC)
    return max(changed, item.published_at.astimezone(UTC))


def feed_bytes(catalog: Catalog, lang: str, default: str, now: datetime, base_url: str) -> bytes:
    t = texts(lang)
    w = words(t)
    found = sorted(published(catalog, now), key=lambda i: (i.published_at, i.id), reverse=True)
    entries = found[:ENTRIES]
    ending = suffix(lang, default)
    fg = FeedGenerator()
    fg.id(f"{base_url}/feed{ending}.xml")
    fg.title(w["title"])
    fg.author({"name": w["title"]})
    fg.link(href=f"{base_url}/index{ending}.html", rel="alternate", type="text/html")
    fg.link(href=f"{base_url}/feed{ending}.xml", rel="self", type="application/atom+xml")
    fg.language(lang)
    stamps = {item.id: revised(catalog, item) for item in entries}
    fg.updated(max(stamps.values(), default=NOTHING_YET))
    template = TEMPLATES.get_template("feed_entry.html")
    enclosures: dict[str, dict[str, str]] = {}
    for item in entries:
        view = item_view(item, lang, default, f"{base_url}/")
        entry = fg.add_entry(order="append")
        entry.id(f"{base_url}/u/{item.id}{ending}.html")
        # lxml refuses a control character (a form feed from a PDF): drop them;
        # an entry needs a title, even one that was nothing else.
        entry.title(clean(view.title) or view.id)
        entry.link(href=view.href, rel="alternate", type="text/html")
        entry.published(item.published_at.astimezone(UTC))
        entry.updated(stamps[item.id])
        content = template.render(item=view, w=w, lang=lang, root=f"{base_url}/")
        entry.content(clean(content), type="html")
        for media in item.media:  # the stripped copies, as the pages serve them
            href = f"{base_url}/{media_name(media)}"
            entry.link(href=href)
            enclosures[href] = {"rel": "enclosure", "type": media.mime, "length": str(media.size)}
    data: bytes = fg.atom_str(pretty=True)
    return _with_enclosures(data, enclosures) if enclosures else data


def _with_enclosures(data: bytes, enclosures: dict[str, dict[str, str]]) -> bytes:
    """feedgen writes an entry's links with their href alone (its atom_entry
    overwrites the link it reads from): give the enclosures their attributes."""
    root = etree.fromstring(data)
    for link in root.iter(f"{{{ATOM}}}link"):
        attributes = enclosures.get(link.get("href") or "")
        if attributes is not None:
            link.attrib.update(attributes)
    fixed: bytes = etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")
    return fixed
