"""End to end: `strikewire run` on the console prints a picket reminder on time.

The one test that waits on real time: a picket starts 66 s after launch with
`remind: [1m]`, so the real APScheduler job fires about 6 s in; the whole run
is bounded well under 20 s.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.conftest import write_update

BERLIN = ZoneInfo("Europe/Berlin")


async def test_console_bot_prints_the_reminder_on_time(tmp_path: Path) -> None:
    starts = (datetime.now(UTC) + timedelta(seconds=66)).replace(microsecond=0)
    fire_at = (starts - timedelta(minutes=1)).timestamp()
    write_update(
        tmp_path / "updates",
        "soon.md",
        f"""
        kind: picket
        title: Picket at the embassy
        date: {starts.date().isoformat()}
        starts: {starts.isoformat()}
        places:
          - {{city: Berlin, where: Botschaft, time: "{starts.astimezone(BERLIN).strftime("%H:%M")}",
              timezone: Europe/Berlin}}
        remind: [1m]
        """,
    )
    (tmp_path / "config.yaml").write_text(
        "updates_dir: updates\ndatabase: {url: 'sqlite:///bot.db'}\ntimezone: UTC\n"
    )
    with (tmp_path / "stderr.log").open("wb") as errors:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "-c",
            str(tmp_path / "config.yaml"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            cwd=tmp_path,
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(b"/start\n")
            await proc.stdin.drain()
            seen: list[str] = []
            arrived: float | None = None
            deadline = fire_at + 10
            while arrived is None and time.time() < deadline:
                try:
                    line = await asyncio.wait_for(
                        proc.stdout.readline(), timeout=max(0.1, deadline - time.time())
                    )
                except TimeoutError:
                    break
                if not line:
                    break
                seen.append(line.decode())
                if line.startswith(b"Reminder: Picket at the embassy"):
                    arrived = time.time()
            log = (tmp_path / "stderr.log").read_text(errors="replace")
            assert arrived is not None, f"no reminder; stdout={seen!r} stderr={log[-2000:]}"
            assert fire_at - 0.5 <= arrived <= fire_at + 5, (arrived - fire_at, log[-2000:])
            # The rest of the message, down to its last line: the places.
            message = [seen[-1]]
            while "Botschaft" not in message[-1] and len(message) < 20:
                line = await asyncio.wait_for(proc.stdout.readline(), timeout=5)
                message.append(line.decode())
            text = "".join(message)
            assert "Starts in 1 minute" in text
            assert "Berlin: Botschaft" in text and "(UTC+01:00)" in text
            assert "reminder is late" not in text
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
