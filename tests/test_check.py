"""`strikewire check`: shipped updates pass; each kind of broken file is reported at its line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.cli import main

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def run_check(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, list[str]]:
    code = main(["check", "-c", str(config)])
    out = capsys.readouterr()
    return code, out.out.splitlines() + out.err.splitlines()


def test_shipped_updates_pass(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    shutil.copytree(ROOT / "updates", tmp_path / "updates")
    (tmp_path / "config.yaml").write_text("updates_dir: updates\n")
    code, lines = run_check(capsys, tmp_path / "config.yaml")
    assert code == 0, lines
    assert lines[0].startswith("ok: config and 6 update(s)")


EXPECTED = {
    "updates/no-front-matter.md:1: no front matter",
    "updates/broken-yaml.md:5: broken YAML: found unexpected end of stream "
    "(while scanning a quoted scalar at line 3)",
    "updates/unknown-kind.md:2: kind: 'newsletter' is not allowed "
    "(use 'news', 'appeal' or 'picket')",
    "updates/typo-key.md:5: campaings: is not a known key (check its spelling)",
    "updates/missing-title.md:1: title: is required but missing",
    "updates/bad-date.md:4: date: '2026-13-45' is not a date (use YYYY-MM-DD)",
    "updates/bad-place-zone.md:11: places[1].timezone: 'Europe/Berlim' is not a known time zone",
    "updates/bad-duration.md:8: remind: '1x' is not a duration (use 30m, 3h, 1d)",
    "updates/second-of-two.md:1: id 'same-id' is already used by updates/first-of-two.md",
    "updates/orphan.de.md:1: is a translation (de) but orphan.md does not exist",
    "updates/empty-body.md:6: the body is empty",
    "updates/appeal-without-address.md:2: addresses: an appeal needs at least one address",
    "updates/latin1.md:6: is not UTF-8 text (save it as UTF-8)",
    "updates/bad-withdrawn.md:5: withdrawn: 3 must be true, false or a reason in quotes",
    "updates/empty-correction.md:5: correction: is empty (write it in quotes, or remove the key)",
}


def test_broken_files_are_reported_at_their_lines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shutil.copytree(DATA / "broken", tmp_path / "updates")
    latin1 = "---\nkind: news\ntitle: Latin-1\ndate: 2026-11-20\n---\nStreik in Düsseldorf\n"
    (tmp_path / "updates" / "latin1.md").write_bytes(latin1.encode("latin-1"))
    (tmp_path / "config.yaml").write_text("updates_dir: updates\n")
    code, lines = run_check(capsys, tmp_path / "config.yaml")
    assert code == 1
    for expected in EXPECTED:
        assert any(line.startswith(expected) for line in lines), (expected, lines)
    # The summary counts what still loaded: the valid file and the first of the duplicate ids.
    assert lines[-1] == f"{len(EXPECTED)} problem(s); 2 update(s) valid"


def test_bad_config_key_names_the_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("updates_dir: updates\nbroadcast:\n  max_agee: 2d\n")
    code, lines = run_check(capsys, tmp_path / "config.yaml")
    assert code == 2
    assert lines == [
        f"{tmp_path / 'config.yaml'}:3: broadcast.max_agee: is not a known key (check its spelling)"
    ]


def test_missing_secret_names_the_variable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TELEGRAM_TOKEN", raising=False)
    (tmp_path / "config.yaml").write_text("telegram:\n  token: ${TELEGRAM_TOKEN}\n")
    code, lines = run_check(capsys, tmp_path / "config.yaml")
    assert code == 2
    assert lines == [
        f"{tmp_path / 'config.yaml'}:2: telegram.token: environment variable "
        "TELEGRAM_TOKEN is not set (export TELEGRAM_TOKEN=… before starting)"
    ]


def test_missing_explicit_config_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, lines = run_check(capsys, tmp_path / "nope.yaml")
    assert code == 2
    assert lines == [
        f"{tmp_path / 'nope.yaml'}: no such config file (copy config.example.yaml to start one)"
    ]


def test_config_example_is_valid(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("MATRIX_PASSWORD", "secret")
    code, lines = run_check(capsys, ROOT / "config.example.yaml")
    assert code == 0, lines


def test_what_would_hurt_readers_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A 10 MB file, a link out of updates/ and a text of too many messages."""
    updates = tmp_path / "updates"
    shutil.copytree(
        DATA / "broken", updates, ignore=lambda d, names: [n for n in names if n != "good.md"]
    )
    front = "---\nkind: news\ntitle: {title}\ndate: 2026-11-20\n---\n"
    (updates / "huge.md").write_text(front.format(title="Huge") + "x" * (10 * 1024 * 1024))
    paragraphs = "\n\n".join(
        f"Paragraph {n} of the strike committee's statement." for n in range(900)
    )
    (updates / "long.md").write_text(front.format(title="Long") + paragraphs)
    secret = tmp_path / "secret.txt"
    secret.write_text(front.format(title="Outside") + "Not for the bot.")
    (updates / "linked.md").symlink_to(secret)
    (tmp_path / "config.yaml").write_text("updates_dir: updates\n")
    code, lines = run_check(capsys, tmp_path / "config.yaml")
    assert code == 1
    assert (
        "updates/huge.md: is 10.0 MB; an update file may be at most 1 MB "
        "(split it into several updates)" in lines
    )
    assert (
        f"updates/linked.md: is a link to {secret}, outside updates/ "
        "(copy the file into the folder instead of linking to it)" in lines
    )
    long_line = next(line for line in lines if line.startswith("updates/long.md:"))
    assert "Telegram messages; at most 10 are allowed (broadcast.max_parts)" in long_line
    assert lines[-1] == "3 problem(s); 1 update(s) valid"

    # The limit is the operator's: with room for more parts the long text passes.
    (updates / "huge.md").unlink()
    (updates / "linked.md").unlink()
    (tmp_path / "config.yaml").write_text("updates_dir: updates\nbroadcast: {max_parts: 30}\n")
    code, lines = run_check(capsys, tmp_path / "config.yaml")
    assert code == 0, lines
