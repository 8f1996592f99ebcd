"""Loading and validating many update files: `python -m bench.bench_load [--files N]`.

Writes N varied update files (news, appeals, pickets, translations) into a
temporary folder and times `Catalog.load()`, which is what `strikewire check`
and every reload do. The issue's target: 10,000 files in under 5 seconds.

In the same run the same files are read by a bare loader, the floor: each
file read and its front matter parsed by PyYAML (its C loader where built),
nothing else. The load over the floor is the ratio the target is read by
(docs/benchmarks.md), since both move with the host's speed.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from bot.content.catalog import Catalog
from bot.render.parts import part_limit

# The 5 s for 10,000 files, read against the floor in the same run
# (docs/benchmarks.md, "Ratio targets").
RATIO_TARGET = 5.0
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

NEWS = """---
kind: news
title: Strike bulletin number {n}
date: 2026-11-{day:02d}
campaigns: [metallist, kazakhstan]
---
The strike at the **Metallist** factory continues, day {n}. Workers have not been
paid for three years. They demand nationalisation and workers' control.

- street protests
- road blockades
- a shareholders' meeting stopped
"""

APPEAL = """---
kind: appeal
title: Messages of solidarity, appeal {n}
date: 2026-11-{day:02d}
campaigns: [metallist]
expires: 2027-02-01
addresses:
  - label: Strike committee
    postal: |
      417000 Republic of Kazakhstan
      Uralsk, ul. Udrinskaya d.1/1 kv. 9
---
Send messages of solidarity to the strike committee.
"""

PICKET = """---
kind: picket
title: Solidarity pickets {n}
date: 2026-11-{day:02d}
starts: 2027-03-06T12:00:00+05:00
places:
  - {{city: Uralsk, where: Factory gates, time: "12:00", timezone: Asia/Oral}}
  - {{city: Berlin, where: Embassy, time: "12:00", timezone: Europe/Berlin}}
remind: [7d, 1d, 3h]
---
Picket the embassy on the day of the conference.
"""

TRANSLATION = """---
title: Забастовочный бюллетень номер {n}
---
Забастовка на заводе «Металлист» продолжается.
"""


def write_files(folder: Path, count: int) -> None:
    for n in range(count):
        kind = n % 10
        day = n % 28 + 1
        if kind < 6:
            (folder / f"news-{n}.md").write_text(NEWS.format(n=n, day=day))
            if kind == 0:
                (folder / f"news-{n}.ru.md").write_text(TRANSLATION.format(n=n))
        elif kind < 9:
            (folder / f"appeal-{n}.md").write_text(APPEAL.format(n=n, day=day))
        else:
            (folder / f"picket-{n}.md").write_text(PICKET.format(n=n, day=day))


def bare_load(folder: Path) -> float:
    """Seconds to read every file and parse its front matter, nothing else."""
    started = time.perf_counter()
    for path in sorted(folder.glob("*.md")):
        front = path.read_bytes().decode().split("---\n", 2)[1]
        yaml.load(front, Loader=LOADER)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_files(folder, args.files)
        files = len(list(folder.glob("*.md")))
        # As the bot loads it: with the length rule (broadcast.max_parts default).
        catalog = Catalog(folder, ZoneInfo("UTC"), too_long=part_limit(10))
        started = time.perf_counter()
        catalog.load()
        took = time.perf_counter() - started
        assert not catalog.problems, catalog.problems[:3]
        print(
            f"machine: {platform.machine()} {platform.python_implementation()} "
            f"{platform.python_version()}"
        )
        print(f"files: {files} ({len(catalog.items)} items with translations attached)")
        print(f"load + validate: {took:.2f} s ({files / took:,.0f} files/s)")
        started = time.perf_counter()
        catalog.reload()
        print(f"reload (unchanged): {time.perf_counter() - started:.2f} s")
        floor = bare_load(folder)
        ratio = took / floor
        verdict = "met" if ratio <= RATIO_TARGET else "MISSED"
        print(
            f"floor (read + YAML front matter only): {floor:.2f} s; load / floor {ratio:.1f} "
            f"(target ≤ {RATIO_TARGET:.0f}: {verdict})"
        )


if __name__ == "__main__":
    main()
