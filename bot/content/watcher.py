"""Watching `updates/`: a file dropped, changed or removed triggers a reload.

Changes are picked up within seconds. A file still being written (a slow copy)
is waited for: the reload happens only once the changed files have kept the
same size and modification time for `settle` seconds, so a half-written file
is not published (the files are looked at in a worker thread: a copy of
thousands of files must not stall answers). Pictures and PDFs count as much
as update files: a replaced photo is a correction of the update naming it.
Editors' temp files and hidden files are ignored. Once
the watch is armed the folder is read once more, so a file written while the
bot was starting is not missed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import Change, awatch

from bot.content.loader import is_update_file
from bot.media.files import SUFFIXES

log = logging.getLogger(__name__)


def is_media_file(path: Path) -> bool:
    """A file `media:` may name (by its suffix), not hidden or a partial copy."""
    return path.suffix.lower() in SUFFIXES and not path.name.startswith((".", "#", "~"))


def _signature(paths: set[Path]) -> tuple[tuple[str, int, int], ...]:
    found = []
    for path in sorted(paths):
        try:
            st = path.stat()
            found.append((str(path), st.st_size, st.st_mtime_ns))
        except OSError:
            found.append((str(path), -1, -1))
    return tuple(found)


async def wait_until_settled(paths: set[Path], settle: float, limit: float = 120.0) -> None:
    """Return once `paths` stop changing for `settle` seconds (or after `limit`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    last = await asyncio.to_thread(_signature, paths)
    while loop.time() < deadline:
        await asyncio.sleep(settle)
        now = await asyncio.to_thread(_signature, paths)
        if now == last:
            return
        last = now


async def watch_updates(
    directory: Path,
    on_change: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
    settle: float = 1.0,
) -> None:
    """Call `on_change` after every settled batch of changes to update files."""
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)

    def relevant(change: Change, path: str) -> bool:
        # A picture an update names is part of it: a new one is a correction.
        return is_update_file(Path(path)) or is_media_file(Path(path))

    # The first (timed-out, empty) batch says the watcher is armed: reading the
    # folder once more then catches a file written between the start-up load
    # and the watch, which would otherwise wait for the next change.
    armed = False
    async for changes in awatch(
        directory,
        stop_event=stop,
        watch_filter=relevant,
        recursive=True,
        rust_timeout=1000,
        yield_on_timeout=True,
    ):
        if not changes:
            if not armed:
                armed = True
                await _quietly(on_change)
            continue
        armed = True
        paths = {Path(p) for _, p in changes}
        log.info("updates changed files=%d", len(paths))
        await wait_until_settled(paths, settle)
        await _quietly(on_change)


async def _quietly(on_change: Callable[[], Awaitable[None]]) -> None:
    try:
        await on_change()
    except Exception as exc:  # the next change tries again
        log.exception("reload failed error=%s", type(exc).__name__)
