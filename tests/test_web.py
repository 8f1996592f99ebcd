"""The web face's pages as a reader gets them from the bot's own server: what
they show and what they must not, the reader's language, the security headers
and the error pages; and the `web:` config."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.i18n import texts
from tests.web import NOW, campaign_folder, get, running_web, web_config


async def test_front_page_shows_appeals_pickets_and_updates(tmp_path: Path) -> None:
    campaign_folder(tmp_path / "updates")
    async with running_web(web_config(tmp_path)) as bot:
        page = await get(bot.url + "/")
        assert page.status == 200
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        html = page.text
        catalog = bot.app.catalog
        appeals = catalog.active_appeals(NOW.date(), NOW)
        assert appeals, "the repository's updates have active appeals"
        for appeal in appeals:
            assert f'href="u/{appeal.id}.html"' in html
            for address in appeal.addresses:
                assert address.postal is not None
                # Each address is one <pre> block, exactly its lines, ready to copy.
                assert f"<pre>{escape(address.postal.strip())}</pre>" in html
        t = texts("en")
        pickets = catalog.upcoming_pickets(NOW)
        assert pickets
        for picket in pickets:
            for place, start in picket.place_starts():
                assert escape(place.city) in html
                assert f'<time datetime="{start.isoformat()}">{t.moment(start)}</time>' in html
        assert 'href="pickets.ics"' in html
        for item in catalog.latest_news(NOW, 10):
            assert escape(item.title) in html
        # Corrected: the page says what was corrected.
        assert "Corrected: the hearing is on Friday, not Thursday" in html


async def test_withdrawn_and_embargoed_updates_are_not_shown(tmp_path: Path) -> None:
    campaign_folder(tmp_path / "updates")
    async with running_web(web_config(tmp_path)) as bot:
        everything = [
            (await get(bot.url + path)).text
            for path in ("/", "/feed.xml", "/?lang=ru", "/feed.ru.xml")
        ]
        for text in everything:
            assert "A rumour we took back" not in text
            assert "withdrawn update" not in text
            assert "An appeal not yet public" not in text
            assert "Embargoed street" not in text
        for path in ("/u/taken-back", "/u/taken-back.html", "/u/embargoed.html"):
            assert (await get(bot.url + path)).status == 404
        assert (await get(bot.url + "/u/court-date.html")).status == 200


async def test_an_update_page_links_its_translations(tmp_path: Path) -> None:
    campaign_folder(tmp_path / "updates")
    async with running_web(web_config(tmp_path)) as bot:
        english = await get(bot.url + "/u/metallist-strike")
        assert english.status == 200
        assert "<h1>The Metallist strike in Uralsk goes on</h1>" in english.text
        assert 'href="../u/metallist-strike.ru.html" hreflang="ru"' in english.text
        russian = await get(bot.url + "/u/metallist-strike.ru.html")
        assert '<html lang="ru">' in russian.text
        assert "Забастовка на заводе «Металлист» в Уральске продолжается" in russian.text
        assert 'href="../u/metallist-strike.html" hreflang="en"' in russian.text
        # A language the update has no translation in: the original, said so.
        german = await get(bot.url + "/u/metallist-solidarity?lang=de")
        assert "Noch keine Übersetzung auf Deutsch; hier ist das Original." in german.text


@pytest.mark.parametrize(
    ("path", "headers", "lang", "heading"),
    [
        ("/?lang=ru", {}, "ru", "Новости, обращения и пикеты"),
        ("/", {"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"}, "de", "Meldungen, Aufrufe"),
        ("/", {"Accept-Language": "fr-FR, sv;q=0.7, en;q=0.3"}, "sv", "Nyheter, upprop"),
        ("/", {"Accept-Language": "fr, ja"}, "en", "News, appeals and pickets"),
        ("/?lang=uk", {"Accept-Language": "de"}, "uk", "Новини, звернення"),
        ("/index.kk.html", {"Accept-Language": "de"}, "kk", "Жаңалықтар, үндеулер"),
        ("/index.html", {"Accept-Language": "de"}, "en", "News, appeals"),
    ],
)
async def test_the_page_speaks_the_readers_language(
    tmp_path: Path, path: str, headers: dict[str, str], lang: str, heading: str
) -> None:
    campaign_folder(tmp_path / "updates")
    async with running_web(web_config(tmp_path)) as bot:
        page = await get(bot.url + path, headers)
        assert page.status == 200
        assert f'<html lang="{lang}">' in page.text
        assert f"<h1>{heading}" in page.text
        t = texts(lang)
        assert t._("Active appeals") in page.text
        # Links keep the reader in the language.
        ending = "" if lang == "en" else f".{lang}"
        assert f'href="u/metallist-solidarity{ending}.html"' in page.text


async def test_security_headers_and_no_script(tmp_path: Path) -> None:
    campaign_folder(tmp_path / "updates")
    async with running_web(web_config(tmp_path)) as bot:
        for path in ("/", "/u/metallist-strike", "/feed.xml", "/pickets.ics", "/nope", "/healthz"):
            got = await get(bot.url + path)
            csp = got.headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp and "script-src" not in csp
            assert "'unsafe-inline'" not in csp
            assert got.headers["Referrer-Policy"] == "no-referrer"
            assert got.headers["X-Content-Type-Options"] == "nosniff"
            assert "aiohttp" not in got.headers.get("Server", "")
        html = (await get(bot.url + "/")).text
        assert "<script" not in html and "style=" not in html and "<style" not in html
        css = await get(bot.url + "/style.css")
        assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")
        assert "@media print" in css.text


async def test_markup_in_a_file_is_shown_as_text(tmp_path: Path) -> None:
    folder = campaign_folder(tmp_path / "updates")
    (folder / "hostile.md").write_text(
        "---\nkind: news\ntitle: <b>Bold</b> & <script>alert(1)</script>\ndate: 2026-11-24\n---\n"
        "A body with <img src=x onerror=alert(1)> and [a link](javascript:alert(1)) and "
        "[a good one](https://example.org/).\n",
        encoding="utf-8",
    )
    async with running_web(web_config(tmp_path)) as bot:
        for path in ("/", "/u/hostile"):
            html = (await get(bot.url + path)).text
            assert "<script>alert" not in html and "<img" not in html and "<b>Bold" not in html
            assert "&lt;b&gt;Bold&lt;/b&gt; &amp; &lt;script&gt;" in html
            assert 'href="javascript' not in html
        assert (
            '<a href="https://example.org/">a good one</a>'
            in (await get(bot.url + "/u/hostile")).text
        )


async def test_unknown_addresses_get_the_404_page_in_the_readers_language(
    tmp_path: Path,
) -> None:
    campaign_folder(tmp_path / "updates")
    async with running_web(web_config(tmp_path)) as bot:
        for path in ("/nope", "/u/nope", "/u/metallist-strike.xx.html", "/a/b/c", "/index.en.html"):
            got = await get(bot.url + path)
            assert got.status == 404, path
            assert "<h1>Page not found</h1>" in got.text
            assert "Traceback" not in got.text
            assert 'href="/style.css"' in got.text  # at any depth
        russian = await get(bot.url + "/nope", {"Accept-Language": "ru"})
        assert russian.status == 404 and "<h1>Страница не найдена</h1>" in russian.text


async def test_a_failure_is_the_500_page_and_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    campaign_folder(tmp_path / "updates")
    async with running_web(web_config(tmp_path)) as bot:
        assert bot.app.web is not None

        def broken(name: str, now: object) -> None:
            raise RuntimeError("secret detail")

        bot.app.web.site.render = broken  # type: ignore[method-assign]
        with caplog.at_level(logging.INFO, logger="bot.web.server"):
            got = await get(bot.url + "/")
        assert got.status == 500
        assert "Something went wrong" in got.text
        assert "secret detail" not in got.text and "Traceback" not in got.text
        failures = [r for r in caplog.records if "web request failed" in r.getMessage()]
        assert len(failures) == 1
        assert failures[0].getMessage() == "web request failed error=RuntimeError"
        assert failures[0].exc_info is None


async def test_no_subscriber_data_on_any_page(tmp_path: Path) -> None:
    campaign_folder(tmp_path / "updates")
    async with running_web(web_config(tmp_path)) as bot:
        chat = "987654321"
        await bot.adapter.say(chat, "/start")
        await bot.adapter.say(chat, "/language ru")
        assert (await bot.app.store.subscriber_counts()) == {"telegram": 1}
        site = bot.app.web
        assert site is not None
        for name in site.site.names(NOW):
            got = await get(f"{bot.url}/{name}")
            assert got.status == 200, name
            assert chat.encode() not in got.body, name
        metrics = await get(bot.url + "/metrics")
        assert chat not in metrics.text
        assert 'strikewire_subscribers{platform="telegram"} 1.0' in metrics.text


async def test_subscribe_links_come_from_the_adapters(tmp_path: Path) -> None:
    campaign_folder(tmp_path / "updates")
    from tests.recording import RecordingAdapter

    adapter = RecordingAdapter()
    adapter.link = "https://t.me/strike_news_bot?start="
    async with running_web(web_config(tmp_path), adapter=adapter) as bot:
        html = (await get(bot.url + "/")).text
        assert '<a class="follow" href="https://t.me/strike_news_bot?start=">Telegram</a>' in html


async def test_public_false_serves_only_health_and_metrics(tmp_path: Path) -> None:
    campaign_folder(tmp_path / "updates")
    async with running_web(web_config(tmp_path, public=False)) as bot:
        for path in ("/", "/u/metallist-strike", "/feed.xml", "/pickets.ics", "/style.css"):
            got = await get(bot.url + path)
            assert got.status == 404, path
            assert "Metallist" not in got.text
        assert (await get(bot.url + "/healthz")).status == 200
        assert (await get(bot.url + "/metrics")).status == 200


async def test_no_web_section_no_server(tmp_path: Path) -> None:
    from tests.conftest import make_config

    campaign_folder(tmp_path / "updates")
    async with running_web(make_config(tmp_path)) as bot:
        assert bot.app.web is None


def test_web_config_errors_name_the_line_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "timezone: UTC\nweb:\n  port: 99999\n  base_url: news.example.org\n  publc: true\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = sorted(p.format() for p in caught.value.problems)
    assert any(re.search(r"config.yaml:3: web.port: .*65535", line) for line in lines), lines
    assert any(
        "config.yaml:4: web.base_url: must be a URL such as https://news.example.org" in line
        for line in lines
    ), lines
    assert any("config.yaml:5: web.publc" in line for line in lines), lines


def test_web_defaults_are_local_and_private(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("web: {}\n", encoding="utf-8")
    web = load_config(path).web
    assert web is not None
    assert (web.listen, web.port, web.public, web.public_url) == (
        "127.0.0.1",
        8080,
        False,
        "http://127.0.0.1:8080",
    )
    assert load_config(tmp_path / "absent.yaml").web is None


def escape(text: str) -> str:
    """As Jinja2's autoescape writes text."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )
