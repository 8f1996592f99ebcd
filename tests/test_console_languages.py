"""End to end on the console: `/language ru` turns every answer, and the
reminder, into Russian (a translated picket gives only its places' names);
`/language de` gives German dates."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.conftest import write_update
from tests.test_delivery import subprocess_env

BERLIN = ZoneInfo("Europe/Berlin")
# Words that would give away an English answer (command names are allowed).
ENGLISH = re.compile(
    r"(?<![/\w])(the|and|Send|Commands|Reminder|Starts|appeals?|pickets?|calendar file|"
    r"subscribe|know|Latest|receives)\b"
)


async def read_until(stream: asyncio.StreamReader, marker: str, within: float) -> str:
    """Everything printed until a line containing `marker` (bounded)."""
    seen: list[str] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            line = await asyncio.wait_for(stream.readline(), max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            break
        if not line:
            break
        seen.append(line.decode())
        if marker in seen[-1]:
            return "".join(seen)
    raise AssertionError(f"{marker!r} not printed; got {''.join(seen)[-3000:]!r}")


async def test_russian_answers_and_reminder_then_german_dates(tmp_path: Path) -> None:
    starts = (datetime.now(UTC) + timedelta(seconds=40)).replace(microsecond=0)
    local = starts.astimezone(BERLIN).strftime("%H:%M")
    write_update(
        tmp_path / "updates",
        "soon.md",
        f"""
        kind: picket
        title: Picket at the embassy
        date: {starts.date().isoformat()}
        starts: {starts.isoformat()}
        places:
          - {{city: Berlin, where: Embassy, time: "{local}", timezone: Europe/Berlin}}
        remind: [30s]
        """,
        "Bring banners.",
    )
    write_update(
        tmp_path / "updates",
        "soon.ru.md",
        """
        title: Пикет у посольства
        places:
          - {city: Берлин, where: Посольство}
        """,
        "Приносите плакаты.",
    )
    (tmp_path / "config.yaml").write_text(
        "updates_dir: updates\ndatabase: {url: 'sqlite:///bot.db'}\ntimezone: UTC\n"
        "reminders: {default: [30s]}\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "-c",
        str(tmp_path / "config.yaml"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=tmp_path,
        env=subprocess_env(),
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:

        async def say(text: str, marker: str) -> str:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(text.encode() + b"\n")
            await proc.stdin.drain()
            return await read_until(proc.stdout, marker, 15)

        await say("/start", "/help")
        russian = [
            await say("/language ru", "Русский"),
            await say("/help", "/help"),
            await say("/pickets", "/calendar"),
            await say("/appeals", "обращ"),
            await say("/nonsense", "/help"),
        ]
        reminder = await read_until(proc.stdout, "Посольство", 40)
        assert "Напоминание" in reminder, reminder
        russian.append(reminder[reminder.index("Напоминание") :])
        for answer in russian:
            assert re.search("[а-яё]", answer), answer
            assert not ENGLISH.search(answer), (ENGLISH.search(answer), answer)
        assert "Берлин: Посольство" in russian[2] and local in russian[2]
        assert "Пикет у посольства" in russian[2]
        german = await say("/language de", "Deutsch")
        assert "Deutsch" in german
        pickets = await say("/pickets", "/calendar")
        month = "Dezember" if starts.month == 12 else ""
        assert re.search(r"\b(Mo|Di|Mi|Do|Fr|Sa|So)\., \d+\. ", pickets), pickets
        assert month in pickets
    finally:
        proc.stdin.close()
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), 15)
