"""`strikewire check`'s word on files larger than the Matrix homeserver takes.

The running bot reads the homeserver's `m.upload.size` at start and keeps it
in the Matrix adapter's state (bot/adapters/matrix_media.py); `check` reads
it from the database, read-only. A file over it would reach Matrix readers
only as its `[image: alt]` line, so `check` calls it a problem at the media
entry's line. When no limit is known (no Matrix section, no database yet,
the bot never reached the homeserver, or the homeserver sets none) it says
nothing: the bot's own limits (10 MB photos, 50 MB documents) are within
Synapse's default of 50 MB, so only a homeserver set lower refuses a file,
and the bot then still sends the file's line.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from bot.cli.common import no_database_yet, open_read_only
from bot.config import Config
from bot.content.items import Item
from bot.media.plan import size_text
from bot.problems import Problem
from bot.store import DatabaseError, PrefixedState


async def saved_upload_limit(config: Config) -> int | None:
    """The homeserver's upload limit in bytes as the bot last read it, or None."""
    if config.matrix is None or no_database_yet(config):
        return None
    # Here, not at the top: matrix-nio is loaded only where Matrix is configured.
    from bot.adapters.matrix_media import UPLOAD_LIMIT_KEY

    try:
        store = await open_read_only(config)
    except DatabaseError as exc:
        print(f"strikewire: {exc}; not checked: the Matrix upload limit", file=sys.stderr)
        return None
    try:
        value = await PrefixedState(store, "matrix").get(UPLOAD_LIMIT_KEY)
    finally:
        await store.close()
    return int(value) if value and value.isdigit() else None


def over_limit(items: Iterable[Item], limit: int) -> list[Problem]:
    """A problem at each media entry whose file is larger than `limit` bytes."""
    problems = []
    for item in items:
        for index, (ref, media) in enumerate(zip(item.media_refs, item.media, strict=False)):
            if media.size <= limit:
                continue
            problems.append(
                Problem(
                    item.path,
                    ref.line,
                    f"media[{index}]: {media.name} is {size_text(media.size)}; the Matrix "
                    f"homeserver takes at most {size_text(limit)} (make it smaller, or "
                    "raise max_upload_size on the homeserver)",
                )
            )
    return problems
