"""The static mirror is the site: `strikewire site -o DIR` leaves DIR holding
exactly the current site (a withdrawn update's pages gone), swapped in whole,
and never wipes a folder the bot did not make."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.content.catalog import Catalog
from bot.web.mirror import MirrorError, publish
from bot.web.site import Site
from tests.test_delivery import subprocess_env
from tests.web import NOW, campaign_folder

BASE = "https://news.example.org"


def site_of(folder: Path) -> Site:
    catalog = Catalog(folder, ZoneInfo("UTC"), "en")
    catalog.load()
    return Site(catalog, "en", BASE)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file a web server reading `directory` would find, with its bytes."""
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in directory.rglob("*")
        if p.is_file()
    }


def withdraw(folder: Path, name: str) -> None:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("---\n", '---\nwithdrawn: "not true"\n', 1), encoding="utf-8")


def test_a_withdrawn_update_leaves_the_mirror(tmp_path: Path) -> None:
    folder = campaign_folder(tmp_path / "updates")
    out = tmp_path / "public"
    publish(site_of(folder), out, NOW)
    first = snapshot(out)
    assert {"u/metallist-strike.html", "u/metallist-strike.ru.html"} <= set(first)

    withdraw(folder, "metallist-strike.md")
    count = publish(site_of(folder), out, NOW)
    second = snapshot(out)
    assert not [name for name in second if "metallist-strike." in name]
    assert b"metallist-strike.html" not in second["index.html"]
    assert len(second) == count
    # Nothing else of the old build is left beside the mirror.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".public")) == [
        os.readlink(out)
    ]


def test_a_reader_sees_the_old_site_until_one_rename_shows_the_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = campaign_folder(tmp_path / "updates")
    out = tmp_path / "public"
    publish(site_of(folder), out, NOW)
    old = snapshot(out)
    withdraw(folder, "metallist-strike.md")
    site = site_of(folder)
    new_files = {name: site.render(name, NOW) for name in site.names(NOW)}
    new = {name: found.content for name, found in new_files.items() if found is not None}
    assert new != old

    seen: list[str] = []
    render = Site.render

    def render_and_look(self: Site, name: str, now: object) -> object:
        # While the new site is being written, DIR is the whole old one.
        assert snapshot(out) == old
        seen.append(name)
        return render(self, name, now)  # type: ignore[arg-type]

    real_replace = os.replace

    def replace_and_look(src: object, dst: object) -> None:
        if Path(str(dst)) == out:
            assert snapshot(out) == old
            real_replace(src, dst)  # type: ignore[arg-type]
            assert snapshot(out) == new  # one rename, and DIR is the whole new site
            seen.append("swap")
        else:
            real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(Site, "render", render_and_look)
    monkeypatch.setattr(os, "replace", replace_and_look)
    publish(site, out, NOW)
    assert seen[-1] == "swap" and len(seen) > 10
    assert snapshot(out) == new


def test_a_mirror_written_in_place_by_an_older_version_is_taken_over(tmp_path: Path) -> None:
    folder = campaign_folder(tmp_path / "updates")
    out = tmp_path / "public"
    out.mkdir()
    (out / "u").mkdir()
    (out / "index.html").write_text("old front page", encoding="utf-8")
    (out / "u" / "gone-long-ago.ru.html").write_text("withdrawn", encoding="utf-8")
    publish(site_of(folder), out, NOW)
    assert out.is_symlink()
    files = snapshot(out)
    assert "u/gone-long-ago.ru.html" not in files
    assert files["index.html"] != b"old front page"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".public")] == [
        os.readlink(out)
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda d: (d / ".bashrc").write_text("x"),
            "holds .bashrc, which `strikewire site` did not write: the mirror replaces "
            "the whole folder, so give -o a new or empty folder",
        ),
        (
            lambda d: (d / "u" / "notes.txt").write_text("x"),
            "holds u/notes.txt, which `strikewire site` did not write: the mirror replaces "
            "the whole folder, so give -o a new or empty folder",
        ),
    ],
)
def test_a_folder_the_bot_did_not_make_is_never_wiped(
    tmp_path: Path, make: object, message: str
) -> None:
    folder = campaign_folder(tmp_path / "updates")
    home = tmp_path / "home"
    (home / "u").mkdir(parents=True)
    (home / "index.html").write_text("mine", encoding="utf-8")
    make(home)  # type: ignore[operator]
    before = snapshot(home)
    with pytest.raises(MirrorError) as caught:
        publish(site_of(folder), home, NOW)
    assert str(caught.value) == f"{home} {message}"
    assert snapshot(home) == before
    assert not home.is_symlink()
    assert {p.name for p in tmp_path.iterdir()} == {"updates", "home"}


def test_a_link_the_bot_did_not_make_is_left_alone(tmp_path: Path) -> None:
    folder = campaign_folder(tmp_path / "updates")
    (tmp_path / "elsewhere").mkdir()
    out = tmp_path / "public"
    out.symlink_to("elsewhere")
    with pytest.raises(MirrorError) as caught:
        publish(site_of(folder), out, NOW)
    assert str(caught.value) == (
        f"{out} is a link the bot did not make (to elsewhere); "
        "give -o a new folder or the folder of an earlier `strikewire site`"
    )
    assert os.readlink(out) == "elsewhere"


def run_site(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "site", "-c", str(tmp_path / "config.yaml"), *args],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_site_run_again_after_a_withdrawal_drops_its_pages(tmp_path: Path) -> None:
    folder = campaign_folder(tmp_path / "updates")
    (tmp_path / "config.yaml").write_text(
        f"timezone: UTC\ndatabase: {{url: 'sqlite:///{tmp_path / 'bot.db'}'}}\n"
        f"web: {{base_url: '{BASE}'}}\n",
        encoding="utf-8",
    )
    first = run_site(tmp_path, "-o", "public")
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "public" / "u" / "metallist-strike.ru.html").is_file()
    withdraw(folder, "metallist-strike.md")
    second = run_site(tmp_path, "-o", "public")
    assert second.returncode == 0, second.stderr
    written = snapshot(tmp_path / "public")
    assert second.stderr.strip().endswith(f"wrote {len(written)} file(s) to public")
    assert not [name for name in written if "metallist-strike." in name]

    home = tmp_path / "home"
    home.mkdir()
    (home / ".profile").write_text("x", encoding="utf-8")
    refused = run_site(tmp_path, "-o", str(home))
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        f"strikewire: {home} holds .profile, which `strikewire site` did not write: "
        "the mirror replaces the whole folder, so give -o a new or empty folder"
    )
    assert (home / ".profile").is_file()


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "https://", "ftp://news.example.org", "news.example.org"]
)
def test_site_accepts_only_an_http_base_url(tmp_path: Path, url: str) -> None:
    campaign_folder(tmp_path / "updates")
    (tmp_path / "config.yaml").write_text("timezone: UTC\n", encoding="utf-8")
    proc = run_site(tmp_path, "-o", "public", "--base-url", url)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "strikewire: --base-url must be an http(s) address with a host "
        "(e.g. --base-url https://news.example.org)"
    )
    assert not (tmp_path / "public").exists()


def test_a_run_that_fails_half_way_leaves_the_mirror_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = campaign_folder(tmp_path / "updates")
    out = tmp_path / "public"
    publish(site_of(folder), out, NOW)
    before, link = snapshot(out), os.readlink(out)
    calls: list[str] = []
    render = Site.render

    def fail_on_the_fifth(self: Site, name: str, now: object) -> object:
        calls.append(name)
        if len(calls) == 5:
            raise OSError(28, "No space left on device")
        return render(self, name, now)  # type: ignore[arg-type]

    monkeypatch.setattr(Site, "render", fail_on_the_fifth)
    withdraw(folder, "metallist-strike.md")
    with pytest.raises(OSError, match="No space left"):
        publish(site_of(folder), out, NOW)
    assert snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".public")] == [link]
