"""The hostile corpus (tests/data/hostile): each file or config, dropped beside
a good update, gives exactly the lines the user must see from `strikewire
check` (and, for configs, from `strikewire run`), never a traceback; the good
update still loads. A billion-laughs file is refused within 50 MB.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from bot.app import App
from bot.cli import main
from bot.clock import FakeClock
from bot.config import WebConfig
from tests.conftest import make_config
from tests.recording import RecordingAdapter

HOSTILE = Path(__file__).parent / "data" / "hostile"
ROOT = Path(__file__).parent.parent
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NO_ANCHORS = "(write the value out in full: anchors (&name) and aliases (*name) are not accepted)"
PASTED = "is not allowed (delete it; it often comes from text pasted from PDF or Word)"

# File → the lines `check` prints about it; `*` stands for what moves with the
# clock (days from now). Files with only warnings leave the exit status 0.
UPDATES: dict[str, list[str]] = {
    "self-anchor.md": [f"updates/self-anchor.md:5: the YAML anchor &a is not allowed {NO_ANCHORS}"],
    "billion-laughs.md": [
        f"updates/billion-laughs.md:2: the YAML anchor &a0 is not allowed {NO_ANCHORS}"
    ],
    "alias.md": [f"updates/alias.md:3: the YAML alias *t is not allowed {NO_ANCHORS}"],
    "merge-key.md": [f"updates/merge-key.md:2: the YAML anchor &b is not allowed {NO_ANCHORS}"],
    "deep.md": ["updates/deep.md:5: is nested more than 20 levels deep (write it flatter)"],
    "many-values.md": [
        "updates/many-values.md:5: has more than 20,000 YAML values "
        "(this much is a mistake: shorten it)"
    ],
    "python-tag.md": [
        "updates/python-tag.md:5: the YAML tag !!python/object/apply:os.system is not allowed "
        "(write the plain value, in quotes if needed)"
    ],
    "form-feed.md": [
        f"updates/form-feed.md:6: column 10: the control character U+000C (form feed) {PASTED}"
    ],
    "vertical-tab-title.md": [
        "updates/vertical-tab-title.md:3: column 14: the control character U+000B "
        f"(vertical tab) {PASTED}"
    ],
    "escape-sequence.md": [
        f"updates/escape-sequence.md:6: column 6: the control character U+001B (escape) {PASTED}",
        f"updates/escape-sequence.md:6: column 14: the control character U+001B (escape) {PASTED}",
        f"updates/escape-sequence.md:6: column 25: the control character U+0007 (bell) {PASTED}",
    ],
    "nul.md": [f"updates/nul.md:6: column 2: the control character U+0000 (nul) {PASTED}"],
    "c1-next-line.md": [
        f"updates/c1-next-line.md:6: column 5: the control character U+0085 {PASTED}"
    ],
    "escaped-bell.md": [
        "updates/escaped-bell.md:3: title: the control character U+0007 (bell) is not allowed "
        "(remove the escape that writes it)"
    ],
    "unclosed.md": [
        "updates/unclosed.md:1: the front matter has no closing '---' line "
        "(after the last key, write a line holding only '---', then the text)"
    ],
    "crlf.md": [],
    "future.md": [
        "updates/future.md:4: warning: date: 2099-11-20 is in the future: the update goes out "
        "on 2099-11-20 00:00 GMT (in * day(s)), not now (correct the date if it is a typo)"
    ],
    "expired-appeal.md": [
        "updates/expired-appeal.md:5: warning: expires: 2026-02-01 has passed: the appeal is "
        "no longer listed (give a later date, or remove the file)"
    ],
    "UPPER.MD": [
        "updates/UPPER.MD: warning: is not read: update files end in .md "
        "(rename it to UPPER.md if it is one)"
    ],
    "notes.txt": [
        "updates/notes.txt: warning: is not read: update files end in .md "
        "(rename it to notes.md if it is one)"
    ],
}

# Config → the one line (after the config's path) that `check` and `run` print.
CONFIGS: dict[str, str] = {
    "timezone-number.yaml": ":1: timezone: '5' is not a known time zone "
    "(use an IANA name such as Europe/London)",
    "mysql.yaml": ":1: database.url: 'mysql' is not a supported database "
    "(use sqlite:///path/to/file.db or postgresql://user:password@host/db)",
    "missing-updates-dir.yaml": ":1: updates_dir: no-such-folder is not a folder "
    "(create it, or correct the path: a relative one starts from the config file's folder)",
    "unknown-language.yaml": ":1: language: 'xx' is not one of the bot's languages "
    "(use one of en, ru, uk, kk, de, sv)",
    "approvals-one-admin.yaml": ":5: publishing.approvals: 2 admins must approve each post, "
    "but only 1 admin is configured (add telegram.admins or matrix.admins, or lower approvals)",
    "approvals-console.yaml": ":2: publishing.approvals: 2 admins must approve each post, "
    "but only 1 admin is configured (add telegram.admins or matrix.admins, or lower approvals)",
    "unset-variable.yaml": ":2: privacy.key: environment variable STRIKEWIRE_HOSTILE_UNSET "
    "is not set (export STRIKEWIRE_HOSTILE_UNSET=… before starting)",
    "readme-flow-privacy.yaml": ":1: broken YAML: did not find expected ',' or '}' "
    '(while parsing a flow mapping at line 1) (inside { } put ${VAR} in quotes: "${VAR}")',
    "self-anchor.yaml": f":2: the YAML anchor &a is not allowed {NO_ANCHORS}",
    "wrong-type.yaml": ":2: broadcast.max_parts: 'lots': input should be a valid integer, "
    "unable to parse string as an integer",
}


def _matches(pattern: str, line: str) -> bool:
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), line) is not None


def _check(
    capsys: pytest.CaptureFixture[str], config: Path, command: str = "check"
) -> tuple[int, list[str]]:
    code = main([command, "-c", str(config)])
    out = capsys.readouterr()
    return code, out.out.splitlines() + out.err.splitlines()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A bot folder whose updates/ holds one good update."""
    (tmp_path / "updates").mkdir()
    shutil.copy(HOSTILE / "updates" / "good.md", tmp_path / "updates")
    (tmp_path / "config.yaml").write_text("updates_dir: updates\n")
    return tmp_path


@pytest.mark.parametrize("name", sorted(UPDATES))
def test_each_hostile_file_gets_its_line_and_the_good_one_loads(
    capsys: pytest.CaptureFixture[str], folder: Path, name: str
) -> None:
    shutil.copy(HOSTILE / "updates" / name, folder / "updates")
    code, lines = _check(capsys, folder / "config.yaml")
    about = [line for line in lines if line.startswith(f"updates/{name}")]
    expected = UPDATES[name]
    assert len(about) == len(expected), lines
    for pattern, line in zip(expected, about, strict=True):
        assert _matches(pattern, line), (pattern, line)
    errors = [line for line in expected if ": warning: " not in line]
    assert code == (1 if errors else 0), lines
    if errors:
        assert lines[-1].startswith(f"{len(errors)} problem(s); 1 update(s) valid"), lines
    else:
        valid = 1 if name.endswith((".txt", ".MD")) else 2
        assert lines[-1].startswith(f"ok: config and {valid} update(s)"), lines


def test_a_file_name_with_a_newline_or_escape_stays_one_line(
    capsys: pytest.CaptureFixture[str], folder: Path
) -> None:
    (folder / "updates" / "bad\nname.md").write_text("no front matter\n")
    (folder / "updates" / "red\x1b[31m.md").write_text("no front matter\n")
    os.symlink(folder / "gone.md", folder / "updates" / "dangling.md")
    code, lines = _check(capsys, folder / "config.yaml")
    assert code == 1
    assert "updates/bad\\nname.md:1: no front matter (start the file with a '---' line, then " in (
        "\n".join(lines)
    )
    assert any(line.startswith("updates/red\\x1b[31m.md:1: no front matter") for line in lines)
    assert (
        f"updates/dangling.md: warning: is a link to {folder / 'gone.md'}, which does not "
        "exist: it is not read (restore the file or remove the link)" in lines
    )
    assert lines[-1] == "2 problem(s); 1 update(s) valid (1 warning(s))"
    assert not any("\x1b" in line for line in lines)


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_each_config_mistake_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    name: str,
    command: str,
) -> None:
    monkeypatch.delenv("STRIKEWIRE_HOSTILE_UNSET", raising=False)
    config = tmp_path / name
    shutil.copy(HOSTILE / "config" / name, config)
    code, lines = _check(capsys, config, command)
    assert code == 2
    assert lines == [f"{config}{CONFIGS[name]}"]


def test_the_readme_privacy_example_is_valid_yaml(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    line = next(
        line for line in (ROOT / "README.md").read_text().splitlines() if "privacy: {" in line
    )
    example = line.split("in config.yaml: ", 1)[1]
    monkeypatch.setenv("STRIKEWIRE_KEY", "A" * 43 + "=")
    (tmp_path / "config.yaml").write_text(example + "\n")
    code, lines = _check(capsys, tmp_path / "config.yaml")
    assert code == 0, lines


def test_an_oversized_config_is_refused_before_parsing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("# " + "x" * 300_000 + "\n")
    code, lines = _check(capsys, config)
    assert code == 2
    assert lines == [
        f"{config}: is 300,003 bytes; a config may be at most 262,144 (is this the right file?)"
    ]


# Runs `strikewire check` on the billion-laughs file in a child whose address
# space is capped, so the old code fails fast instead of eating the machine.
MEMORY_PROBE = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (3 * 1024**3, 3 * 1024**3))
    from bot.cli import main
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code = main(["check", "-c", sys.argv[1]])
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"extra_kb={after - before} code={code}", file=sys.stderr)
    """
)


def test_billion_laughs_is_refused_within_50_mb(folder: Path) -> None:
    shutil.copy(HOSTILE / "updates" / "billion-laughs.md", folder / "updates")
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(folder / "config.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert "updates/billion-laughs.md:2: the YAML anchor &a0 is not allowed" in done.stdout
    extra_kb, code = re.findall(r"extra_kb=(-?\d+) code=(\d+)", done.stderr)[0]
    assert code == "1"
    assert int(extra_kb) < 50 * 1024, f"{int(extra_kb) / 1024:.1f} MB"


async def test_a_running_bot_shrugs_off_hostile_files(tmp_path: Path) -> None:
    """Present at start or dropped in while it runs, hostile files are told to
    the admins as one line each; after each one a good file is still
    broadcast, and the web face's /healthz stays 200 throughout."""
    updates = tmp_path / "updates"
    updates.mkdir()
    shutil.copy(HOSTILE / "updates" / "self-anchor.md", updates)
    adapter = RecordingAdapter()
    config = make_config(
        tmp_path,
        reports=[{"platform": "telegram", "chat": "ops"}],
        web=WebConfig.model_validate({"port": 0}),
    )
    app = App(config, adapters=[adapter], watch=False, clock=FakeClock(NOW))
    await app.start()
    assert app.web is not None
    health = f"http://127.0.0.1:{app.web.port}/healthz"
    hostile = sorted(
        p.name
        for p in (HOSTILE / "updates").iterdir()
        if p.name not in ("good.md", "self-anchor.md")
    )
    try:
        async with aiohttp.ClientSession() as http:
            await adapter.say("reader", "/start")
            for number, name in enumerate(hostile):
                shutil.copy(HOSTILE / "updates" / name, updates)
                await app.reload()
                good = (HOSTILE / "updates" / "good.md").read_text(encoding="utf-8")
                marker = f"The good file number {number} loads."
                (updates / f"good-{number}.md").write_text(
                    good.replace("The good file loads.", marker), encoding="utf-8"
                )
                await app.reload()
                await adapter.wait_for(functools.partial(delivered, adapter, marker))
                async with http.get(health) as answer:
                    assert answer.status == 200, (name, await answer.text())
        report = "\n".join(adapter.received("ops"))
        for line in (
            "updates/self-anchor.md:5: the YAML anchor &a is not allowed",
            "updates/billion-laughs.md:2: the YAML anchor &a0 is not allowed",
            "updates/deep.md:5: is nested more than 20 levels deep",
            "updates/escape-sequence.md:6: column 6: the control character U+001B (escape)",
            "updates/UPPER.MD: warning: is not read",
        ):
            assert line in report, report
        assert "\x1b" not in report
    finally:
        await app.stop()


def delivered(adapter: RecordingAdapter, marker: str) -> bool:
    return any(marker in message for message in adapter.received("reader"))
