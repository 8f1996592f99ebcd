"""Helpers for the web face's tests: a bot with its web server on 127.0.0.1,
the repository's own update files plus a few that test the rules, and GETs."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bot.app import App
from bot.clock import Clock, FakeClock
from bot.config import Config, WebConfig
from tests.conftest import make_config, write_update
from tests.recording import RecordingAdapter

ROOT = Path(__file__).parent.parent
# The repository's bulletins are dated November 2026; this is a day they all show.
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def campaign_folder(folder: Path) -> Path:
    """The repository's updates/ and three files that test what a page must not
    show (a withdrawn update, an embargoed one) and what it must (a correction)."""
    shutil.copytree(ROOT / "updates", folder)
    write_update(
        folder,
        "taken-back.md",
        """
        kind: news
        title: A rumour we took back
        date: 2026-11-23
        withdrawn: "it was not true"
        """,
        "The secret text of a withdrawn update.",
    )
    write_update(
        folder,
        "embargoed.md",
        """
        kind: appeal
        title: An appeal not yet public
        date: 2026-11-24
        publish_at: 2026-12-24T08:00:00+00:00
        expires: 2027-06-01
        addresses:
          - {label: Not yet, postal: "Embargoed street 1"}
        """,
        "Embargoed body.",
    )
    write_update(
        folder,
        "court-date.md",
        """
        kind: news
        title: The court hearing is on Friday
        date: 2026-11-24
        correction: "the hearing is on Friday, not Thursday"
        """,
        "The hearing of the strike committee's case is on **Friday**.",
    )
    # Files last changed the day before NOW, whenever the checkout was made.
    written = datetime(2026, 11, 24, tzinfo=UTC).timestamp()
    for path in folder.iterdir():
        os.utime(path, (written, written))
    return folder


def web_config(
    tmp_path: Path, database_url: str | None = None, *, public: bool = True, **web: object
) -> Config:
    return make_config(
        tmp_path,
        database_url,
        updates_dir=tmp_path / "updates",
        web=WebConfig.model_validate({"port": 0, "public": public, **web}),
    )


@dataclass
class Running:
    app: App
    adapter: RecordingAdapter

    @property
    def url(self) -> str:
        assert self.app.web is not None
        return f"http://127.0.0.1:{self.app.web.port}"


@asynccontextmanager
async def running_web(
    config: Config, clock: Clock | None = None, adapter: RecordingAdapter | None = None
) -> AsyncIterator[Running]:
    adapter = adapter or RecordingAdapter()
    app = App(config, clock=clock or FakeClock(NOW), adapters=[adapter], watch=False)
    await app.start()
    try:
        yield Running(app, adapter)
    finally:
        await app.stop()


@dataclass(frozen=True)
class Got:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


async def get(url: str, headers: dict[str, str] | None = None) -> Got:
    """GET `url` (127.0.0.1 only), following no redirects."""
    assert url.startswith("http://127.0.0.1:")
    timeout = aiohttp.ClientTimeout(total=20)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, headers=headers or {}, allow_redirects=False) as response,
    ):
        return Got(response.status, dict(response.headers), await response.read())
