"""`strikewire run` with no platform: the console chat, as a newcomer runs it."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent
TODAY = time.strftime("%Y-%m-%d", time.gmtime())


async def start_bot(tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("STRIKEWIRE_CONFIG", None)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        *args,
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def read_until(proc: asyncio.subprocess.Process, marker: str, timeout: float = 20.0) -> str:
    assert proc.stdout is not None
    seen = ""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while marker not in seen:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"{marker!r} not printed; got:\n{seen}")
        chunk = await asyncio.wait_for(proc.stdout.read(4096), timeout=remaining)
        if not chunk:
            raise AssertionError(f"bot exited before printing {marker!r}; got:\n{seen}")
        seen += chunk.decode()
    return seen


async def test_piped_script_answers_and_exits_zero(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "updates", tmp_path / "updates")
    proc = await start_bot(tmp_path)
    out, err = await asyncio.wait_for(
        proc.communicate(b"/start\n/address metallist-solidarity\n"), 60
    )
    assert proc.returncode == 0, err.decode()[-2000:]
    text = out.decode()
    assert "Welcome." in text
    assert (
        "417000 Republic of Kazakhstan\nUralsk, ul. Udrinskaya d.1/1 kv. 9\nPozhidaevy VT" in text
    )
    assert (tmp_path / "strikewire.db").exists()


async def test_dropped_file_is_broadcast_while_running(tmp_path: Path) -> None:
    (tmp_path / "updates").mkdir()
    proc = await start_bot(tmp_path)
    assert proc.stdin is not None
    try:
        proc.stdin.write(b"/start\n")
        await proc.stdin.drain()
        await read_until(proc, "Welcome.")
        (tmp_path / "updates" / "fresh.md").write_text(
            f"---\nkind: news\ntitle: Pickets called for Saturday\ndate: {TODAY}\n---\n"
            "Meet at the embassy at noon.\n"
        )
        seen = await read_until(proc, "Meet at the embassy at noon.")
        assert "── ✉ ──\nPickets called for Saturday" in seen
        # A broken file is reported to the console admin, not sent.
        (tmp_path / "updates" / "broken.md").write_text("---\nkind: news\n---\nNo title.\n")
        seen = await read_until(proc, "updates/broken.md:1: title: is required but missing")
        assert "Update files that were not published" in seen
    finally:
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0


async def test_sigterm_stops_cleanly_and_keeps_the_queue(tmp_path: Path) -> None:
    (tmp_path / "updates").mkdir()
    proc = await start_bot(tmp_path)
    assert proc.stdin is not None
    proc.stdin.write(b"/status\n")
    await proc.stdin.drain()
    await read_until(proc, "Subscribers: 0")
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0


async def test_status_command_line(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "updates", tmp_path / "updates")
    proc = await start_bot(tmp_path)
    await asyncio.wait_for(proc.communicate(b"/start\n"), 60)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    status = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "status", cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(status.communicate(), 60)
    assert status.returncode == 0
    assert "Subscribers: 1 (console 1)" in out.decode()
    assert "Updates: 6 valid, 0 problems" in out.decode()
