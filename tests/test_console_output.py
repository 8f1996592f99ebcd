"""The console's output: a closed standard output ends the bot without losing
a queued message, and nothing printed carries a control character."""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import subprocess
import sys
from pathlib import Path

from bot.store import open_store
from tests.test_console import ROOT, TODAY, start_bot

OUTPUT_CLOSED = 141  # 128 + SIGPIPE, as a shell reports `cat big | head -1`


def bot(tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("STRIKEWIRE_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def read_line(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> bytes:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "nothing printed"
    return proc.stdout.readline()


def ended(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    """Wait (bounded) for the bot to stop by itself, its stdin still open."""
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("the bot kept running after its output closed") from None
    assert proc.stderr is not None and proc.stdin is not None
    proc.stdin.close()
    with proc.stderr:
        return proc.returncode, proc.stderr.read().decode()


def test_closed_output_stops_the_bot_while_input_stays_open(tmp_path: Path) -> None:
    (tmp_path / "updates").mkdir()
    proc = bot(tmp_path)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"/start\n")
    proc.stdin.flush()
    assert b"Welcome." in read_line(proc)
    proc.stdout.close()  # `| head -1`: the reader has what it wanted and goes
    status, err = ended(proc)
    assert status == OUTPUT_CLOSED, err[-2000:]
    assert "console output closed; stopping" in err
    assert "Traceback" not in err and "BrokenPipeError" not in err


async def test_a_message_not_printed_stays_queued(tmp_path: Path) -> None:
    (tmp_path / "updates").mkdir()
    first = await start_bot(tmp_path)
    await asyncio.wait_for(first.communicate(b"/start\n"), 60)  # the console subscribes
    (tmp_path / "updates" / "fresh.md").write_text(
        f"---\nkind: news\ntitle: Pickets called\ndate: {TODAY}\n---\nMeet at noon.\n"
    )
    proc = bot(tmp_path)
    assert proc.stdout is not None
    proc.stdout.close()  # nobody reads: the broadcast at start cannot be shown
    status, err = await asyncio.to_thread(ended, proc)
    assert status == OUTPUT_CLOSED, err[-2000:]
    store = await open_store(f"sqlite:///{tmp_path / 'strikewire.db'}")
    try:
        counts = await store.queue_counts()
    finally:
        await store.close()
    assert counts.get(("console", "queued")) == 1, counts
    assert ("console", "sent") not in counts


async def test_the_console_prints_no_escape_sequence(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "updates", tmp_path / "updates")
    proc = await start_bot(tmp_path)
    typed = "/subscribe \x1b]0;pwned\x07\x1b[2Jx\n/address \x1b[31mred\n"
    out, err = await asyncio.wait_for(proc.communicate(typed.encode()), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    text = out.decode()
    assert "Unknown campaign: ]0;pwned[2Jx." in text
    assert "No active appeal called [31mred." in text
    assert not any(char in text for char in "\x1b\x07\x9b")
