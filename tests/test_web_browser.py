"""The front page in a real browser: Debian's Chromium, headless, driven by
Playwright, with JavaScript switched off (nothing on the pages needs it).

On a phone-sized and a desktop-sized screen it finds every active appeal's
address and every picket place's local time, follows a link to an update's
page, and reads `/?lang=ru` in Russian. Screenshots (and a print PDF) are
kept in `test-artifacts/web/` at the repository's root; the test prints
where. Chromium missing is a failure: `make test` installs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from bot.i18n import texts
from tests.web import NOW, ROOT, campaign_folder, running_web, web_config

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium dials out at start, which
# a closed network refuses.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "web"
SCREENS = {
    "phone": {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2},
    "desktop": {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1},
}


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test`, which installs Debian's chromium")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=ARGS, headless=True, timeout=60_000
        )
        try:
            yield launched
        finally:
            await launched.close()


async def open_page(browser: Browser, screen: str, problems: list[str]) -> Page:
    size = SCREENS[screen]
    context = await browser.new_context(
        viewport=size["viewport"],  # type: ignore[arg-type]
        device_scale_factor=float(size["device_scale_factor"]),  # type: ignore[arg-type]
        is_mobile=screen == "phone",
        java_script_enabled=False,
    )
    page = await context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":  # a CSP violation, a missing stylesheet
            problems.append(message.text)

    page.on("console", on_console)
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    return page


async def shot(page: Page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


@pytest.mark.parametrize("screen", ["phone", "desktop"])
async def test_front_page_in_a_browser(tmp_path: Path, browser: Browser, screen: str) -> None:
    campaign_folder(tmp_path / "updates")
    async with running_web(web_config(tmp_path)) as bot:
        problems: list[str] = []
        page = await open_page(browser, screen, problems)
        response = await page.goto(bot.url + "/")
        assert response is not None and response.status == 200
        catalog = bot.app.catalog

        copyable = await page.locator("#appeals pre").all_inner_texts()
        appeals = catalog.active_appeals(NOW.date(), NOW)
        assert len(appeals) >= 2
        for appeal in appeals:
            for address in appeal.addresses:
                assert address.postal is not None
                assert address.postal.strip() in copyable, (appeal.id, copyable)

        t = texts("en")
        shown_times = await page.locator("#pickets time").all_inner_texts()
        pickets = catalog.upcoming_pickets(NOW)
        assert pickets
        for picket in pickets:
            for place, start in picket.place_starts():
                assert t.moment(start) in shown_times, (place.city, shown_times)
                assert await page.get_by_text(place.city, exact=True).first.is_visible()

        # Readable on the screen: nothing wider than it, the stylesheet applied.
        width = SCREENS[screen]["viewport"]["width"]  # type: ignore[index]
        for block in await page.locator("pre, h1, h2, p").all():
            box = await block.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1
        pre = await page.locator("#appeals pre").first.bounding_box()
        assert pre is not None and pre["height"] > 40  # lines kept, a padded block
        await shot(page, f"index-{screen}")

        if screen == "desktop":
            await page.emulate_media(media="print")
            pdf = ARTIFACTS / "index-print.pdf"
            await page.pdf(path=str(pdf))
            assert pdf.read_bytes().startswith(b"%PDF")
            print(f"print: {pdf}")
            await page.emulate_media(media="screen")

        first = page.locator("#latest article h3 a").first
        title = await first.inner_text()
        await first.click()
        await page.wait_for_load_state()
        assert "/u/" in page.url and page.url.endswith(".html")
        assert await page.locator("h1").inner_text() == title
        await shot(page, f"update-{screen}")
        assert problems == []


async def test_russian_front_page_in_a_browser(tmp_path: Path, browser: Browser) -> None:
    campaign_folder(tmp_path / "updates")
    async with running_web(web_config(tmp_path)) as bot:
        problems: list[str] = []
        page = await open_page(browser, "phone", problems)
        await page.goto(bot.url + "/?lang=ru")
        assert await page.locator("html").get_attribute("lang") == "ru"
        assert await page.locator("h1").inner_text() == "Новости, обращения и пикеты"
        headings = await page.locator("h2").all_inner_texts()
        assert "Действующие обращения" in headings and "Ближайшие пикеты" in headings
        strike = page.locator("#latest h3 a", has_text="Забастовка на заводе «Металлист»")
        assert await strike.count() == 1
        ru = texts("ru")
        picket = bot.app.catalog.items["conference-pickets"]
        times = await page.locator("#pickets time").all_inner_texts()
        assert [ru.moment(start) for _, start in picket.place_starts()] == times
        await shot(page, "index-ru-phone")
        await strike.click()
        await page.wait_for_load_state()
        assert page.url.endswith("/u/metallist-strike.ru.html")
        assert "Металлист" in await page.locator("h1").inner_text()
        assert problems == []
