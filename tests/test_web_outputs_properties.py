"""Whatever text an update carries, every output renders it: Telegram, Matrix
and plain parts (bot/render), the page, the Atom feed and the `.ics`.

Two properties. Text `check` accepts (anything without the forbidden control
characters of bot/cleantext.py) as title, body, correction, address and place
gives valid output everywhere, its title shown as text. Text WITH forbidden
characters (a form feed from a PDF, an escape sequence, a lone surrogate),
built past `check`, still gives valid output, and none of them is in it:
each output drops them (defence in depth).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, time
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import icalendar
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cleantext import clean, has_bad_chars
from bot.content.catalog import Catalog
from bot.content.items import Address, Item, Kind, Place
from bot.i18n import texts
from bot.pickets.ics import calendar_bytes
from bot.render import to_matrix, to_plain, to_telegram
from bot.render.compose import item_message
from bot.render.validate import html_problems
from bot.web.site import Site

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
FORBIDDEN = ["\x00", "\x07", "\x08", "\x0b", "\x0c", "\r", "\x1b", "\x1b[31m", "\x7f", "\x85"]
FORBIDDEN += ["\x9f", "\ufffe", "\uffff", "\ud800", "\udfff", "\r\n"]
MARKUP = ["**", "_", "`", "\n```\n", "\n\n", "> ", "- ", "# ", "[a](https://e.org)", "<b>"]
MARKUP += ["&amp;", "]]>", "<![CDATA[", "\\", "\t", "😀", "Жёлтый", "\u2028", "BEGIN:VEVENT"]

clean_text = st.one_of(st.text(max_size=40), st.sampled_from(MARKUP)).map(clean)
clean_texts = st.lists(clean_text, max_size=8).map("".join)
dirty_texts = st.lists(
    st.one_of(st.text(max_size=20), st.sampled_from(MARKUP), st.sampled_from(FORBIDDEN)),
    min_size=1,
    max_size=10,
).map("".join)

VOID = {"meta", "link", "br", "hr", "img", "input", "wbr", "source", "area", "base", "col"}


class Balance(HTMLParser):
    """Tags that open and close in order; the text of each `<h1>` (the page's
    title first, then any heading of the body)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.h1: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "h1":
            self.h1.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return  # `<hr />` arrives as a start and an end; neither opened anything
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "h1" in self.stack:
            self.h1[-1] += data


def squeeze(text: str) -> str:
    return "".join(text.split())


def items(title: str, body: str) -> list[Item]:
    """A news with a correction, an appeal with an address, a picket with a
    place: every field a reader sees carries the text. Built directly, as no
    file that `check` refuses could bring them."""
    day = dt.date(2026, 11, 20)
    place = Place.model_construct(
        city="City " + title, where=body, time=time(9), timezone="Asia/Oral", date=None
    )
    address = Address.model_construct(label=title, postal=body, email="x@e.org", note=body)
    return [
        Item(
            id="n",
            kind=Kind.NEWS,
            path=Path("updates/n.md"),
            correction=title,
            date=day,
            lang="en",
            title=title,
            body=body,
        ),
        Item(
            id="a",
            kind=Kind.APPEAL,
            path=Path("updates/a.md"),
            expires=dt.date(2027, 1, 1),
            addresses=(address,),
            date=day,
            lang="en",
            title=title,
            body=body,
        ),
        Item(
            id="p",
            kind=Kind.PICKET,
            path=Path("updates/p.md"),
            starts=datetime(2026, 12, 1, 9, tzinfo=UTC),
            places=(place,),
            date=day,
            lang="en",
            title=title,
            body=body,
        ),
    ]


def render_chats(item: Item) -> list[str]:
    markdown = item_message(item, texts("en"))
    telegram = to_telegram(markdown)
    for part in telegram:
        assert html_problems(part, "telegram") == [], part
    matrix = to_matrix(markdown)
    for mx in matrix:
        assert html_problems(mx.formatted_body, "matrix") == [], mx.formatted_body
    return [*telegram, *to_plain(markdown), *(p.body + p.formatted_body for p in matrix)]


def render_web(found: list[Item], title: str) -> list[str]:
    catalog = Catalog(Path("/nonexistent/updates"), ZoneInfo("UTC"), "en")
    catalog.items = {item.id: item for item in found}
    site = Site(catalog, "en", "https://news.example.org")
    outputs = []
    for name in ["index.html", "index.ru.html", "u/n.html", "u/a.ru.html", "u/p.html"]:
        rendered = site.render(name, NOW)
        assert rendered is not None, name
        page = rendered.content.decode("utf-8")
        checker = Balance()
        checker.feed(page)
        checker.close()
        assert checker.problems == [] and checker.stack == [], (name, checker.problems)
        if name.startswith("u/"):  # the title is shown as text, whatever it holds
            assert squeeze(checker.h1[0]) == squeeze(clean(title)), name
        outputs.append(page)
    for name in ["feed.xml", "feed.ru.xml"]:
        rendered = site.render(name, NOW)
        assert rendered is not None
        ET.fromstring(rendered.content)  # well-formed XML
        parsed = feedparser.parse(rendered.content)
        assert not parsed.bozo, parsed.bozo_exception
        assert len(parsed.entries) == 3
        outputs.append(rendered.content.decode("utf-8"))
    ics = site.render("pickets.ics", NOW)
    assert ics is not None
    outputs.append(check_ics(ics.content, title))
    return outputs


def check_ics(data: bytes, title: str) -> str:
    calendar = icalendar.Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    assert str(events[0]["summary"]) == clean(f"{title} — City {title}")
    # RFC 5545 ends its lines with CRLF; no other control character is there.
    return data.decode("utf-8").replace("\r\n", "\n")


def assert_everything_renders(title: str, body: str) -> None:
    found = items(title, body)
    outputs = [text for item in found for text in render_chats(item)]
    outputs += render_web(found, title)
    calendar = calendar_bytes(found, NOW)  # what `/calendar` sends
    outputs.append(check_ics(calendar, title))
    for output in outputs:
        assert not has_bad_chars(output), repr(output[:200])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clean_texts, clean_texts)
def test_whatever_check_accepts_every_output_renders(title: str, body: str) -> None:
    assert_everything_renders(title, body)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dirty_texts, dirty_texts)
def test_no_output_carries_a_control_character_whatever_came_in(title: str, body: str) -> None:
    assert_everything_renders(title, body)


def test_a_form_feed_from_a_pdf_no_longer_breaks_the_feed_or_the_site() -> None:
    # The case the issue saw: /feed.xml answered 500 and `site` stopped half-way.
    assert_everything_renders(
        "Strike\x0cday", "Pasted\x0bfrom a PDF\x0c.\n\nBell\x07, escape\x1b[31m"
    )
