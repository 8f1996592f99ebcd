"""The catalog: reload reports changes; the folder watcher never publishes a half-written file."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.app import App
from bot.cli import main
from bot.content.catalog import Catalog
from tests.conftest import make_config, write_update
from tests.recording import RecordingAdapter
from tests.test_delivery import news, subscribe_many

TODAY = time.strftime("%Y-%m-%d", time.gmtime())
ROOT = Path(__file__).parent.parent


def test_reload_reports_added_changed_removed(tmp_path: Path) -> None:
    folder = tmp_path / "updates"
    write_update(folder, "a.md", "kind: news\ntitle: A\ndate: 2026-11-20")
    write_update(folder, "b.md", "kind: news\ntitle: B\ndate: 2026-11-20")
    catalog = Catalog(folder, ZoneInfo("UTC")).load()
    assert sorted(catalog.items) == ["a", "b"]
    write_update(folder, "a.md", "kind: news\ntitle: A, corrected\ndate: 2026-11-20")
    (folder / "b.md").unlink()
    write_update(folder, "c.md", "kind: news\ntitle: C\ndate: 2026-11-20")
    (folder / ".c.md.swp").write_text("editor junk")
    changes = catalog.reload()
    assert (changes.added, changes.changed, changes.removed) == (("c",), ("a",), ("b",))
    assert catalog.items["a"].title == "A, corrected"
    assert not catalog.reload()


def test_translation_is_attached_to_its_base(tmp_path: Path) -> None:
    folder = tmp_path / "updates"
    write_update(folder, "strike.md", "kind: news\ntitle: Strike\ndate: 2026-11-20", "English.")
    write_update(folder, "strike.ru.md", "title: Забастовка", "Русский.")
    catalog = Catalog(folder, ZoneInfo("UTC")).load()
    item = catalog.items["strike"]
    assert item.in_language("ru").body == "Русский."
    assert item.in_language("de").body == "English."


def test_preview_prints_each_platforms_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = str(ROOT / "updates" / "metallist-solidarity.md")
    assert main(["preview", path, "--platform", "telegram"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("── telegram part 1/1 (")
    assert "<b>Messages of solidarity for the Metallist strike committee</b>" in out
    address = "417000 Republic of Kazakhstan\nUralsk, ul. Udrinskaya d.1/1 kv. 9\nPozhidaevy VT"
    assert f"<pre>{address}</pre>" in out
    assert main(["preview", path, "--platform", "matrix"]) == 0
    out = capsys.readouterr().out
    assert "formatted_body:\n<p><strong>Messages of solidarity" in out
    assert main(["preview", str(ROOT / "updates" / "metallist-strike.ru.md")]) == 0
    assert "Забастовка на заводе «Металлист»" in capsys.readouterr().out


def test_preview_of_a_broken_file_names_the_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_update(tmp_path / "updates", "bad.md", "kind: news\ntitle: Bad\ndate: someday")
    assert main(["preview", "updates/bad.md"]) == 1
    assert (
        capsys.readouterr().out
        == "updates/bad.md:4: date: 'someday' is not a date (use YYYY-MM-DD)\n"
    )


async def test_a_slowly_written_file_is_published_whole(tmp_path: Path) -> None:
    folder = tmp_path / "updates"
    folder.mkdir()
    tg = RecordingAdapter()
    app = App(make_config(tmp_path), adapters=[tg], settle=1.0)
    await app.start()
    try:
        await tg.say("1", "/start")
        path = folder / "slow.md"
        path.write_text(
            f"---\nkind: news\ntitle: Slow copy\ndate: {TODAY}\n---\nFirst paragraph.\n"
        )
        for n in range(6):  # a copy in progress: more arrives every 0.2 s
            await asyncio.sleep(0.2)
            with path.open("a") as f:
                f.write(f"\nParagraph {n}.\n")
        with path.open("a") as f:
            f.write("\nThe end.\n")
        await tg.wait_for(lambda: bool(tg.sent), timeout=15)
        assert await app.drain(timeout=10)
        [message] = tg.received("1")
        assert message.endswith("The end.")
    finally:
        await app.stop()


async def test_an_invalid_file_is_reported_to_the_report_chats_once(tmp_path: Path) -> None:
    mx = RecordingAdapter(platform="matrix")
    config = make_config(tmp_path, reports=[{"platform": "matrix", "chat": "!organisers:x"}])
    app = App(config, adapters=[mx], watch=False)
    await app.start()
    try:
        write_update(
            tmp_path / "updates", "typo.md", "kind: news\ntitle: T\ndate: 2026-11-20\nlang: english"
        )
        await app.reload()
        await app.reload()
        [report] = mx.received("!organisers:x")
        assert report.startswith("Update files that were not published:")
        assert "updates/typo.md:5: lang:" in report
    finally:
        await app.stop()


def test_preview_of_a_lone_translation_is_a_message_not_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "drafts").mkdir()
    (tmp_path / "drafts" / ".strike.de.md").write_text("---\ntitle: Streik\n---\nText.\n")
    assert main(["preview", "drafts/.strike.de.md"]) == 1
    assert capsys.readouterr().out.startswith(
        "drafts/.strike.de.md:1: is a translation whose base file is not read from this folder"
    )


async def test_a_file_written_while_the_bot_starts_is_published(tmp_path: Path) -> None:
    """Between the start-up read of updates/ and the watch being armed there
    is a moment; a file written then is still published, without waiting for
    the next change."""
    await subscribe_many(f"sqlite:///{tmp_path / 'bot.db'}", 3)
    (tmp_path / "updates").mkdir()
    tg = RecordingAdapter()
    app = App(make_config(tmp_path), adapters=[tg], watch=True, settle=0.2)
    await app.start()
    try:
        news(tmp_path / "updates", "written-at-start.md")  # before the watcher is armed
        await tg.wait_for(lambda: len(tg.sent) == 3, timeout=15)
    finally:
        await app.stop()


async def test_answers_go_on_while_a_reload_reads_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.content import catalog as catalog_module

    tg = RecordingAdapter()
    app = App(make_config(tmp_path), adapters=[tg], watch=False)
    await app.start()
    entered, release = threading.Event(), threading.Event()
    released: list[bool] = []
    parse = catalog_module.parse_file  # type: ignore[attr-defined]

    def slow_parse(path: Path, *args: Any, **kwargs: Any) -> Any:
        if path.name == "slow.md":
            entered.set()
            released.append(release.wait(10))  # the old reload blocked the loop here
        return parse(path, *args, **kwargs)

    monkeypatch.setattr(catalog_module, "parse_file", slow_parse)
    try:
        news(tmp_path / "updates", "slow.md")
        reload = asyncio.create_task(app.reload())
        for _ in range(500):
            if entered.is_set():
                break
            await asyncio.sleep(0.01)
        assert entered.is_set()
        [answer] = await tg.say("1", "/address")  # answered mid-reload
        assert answer == "There are no active appeals right now."
        assert not reload.done()
        release.set()
        changes = await asyncio.wait_for(reload, 10)
        assert changes.added == ("slow",)
        assert released == [True]
    finally:
        release.set()
        await app.stop()


async def test_two_reloads_never_read_the_folder_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.content import catalog as catalog_module

    folder = tmp_path / "updates"
    news(folder, "a.md")
    catalog = Catalog(folder, ZoneInfo("UTC")).load()
    reading, most = 0, 0
    guard = threading.Lock()
    parse = catalog_module.parse_file  # type: ignore[attr-defined]

    def counted_parse(*args: Any, **kwargs: Any) -> Any:
        nonlocal reading, most
        with guard:
            reading += 1
            most = max(most, reading)
        time.sleep(0.05)  # long enough for a second reload to overlap, were it allowed
        with guard:
            reading -= 1
        return parse(*args, **kwargs)

    monkeypatch.setattr(catalog_module, "parse_file", counted_parse)
    news(folder, "b.md")
    first, second = await asyncio.gather(catalog.reload_async(), catalog.reload_async())
    assert most == 1
    assert first.added == ("b",) and not second  # the second saw the first's result
    assert sorted(catalog.items) == ["a", "b"]
