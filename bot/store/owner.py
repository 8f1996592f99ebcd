"""One process per SQLite database: an OS lock on a file beside it.

A SQLite bot gives back every lease at start (a crash leaves rows `sending`
that nobody else will send), which is only safe if no other process is
sending from the same file. The lock makes that a rule instead of a hope:
a second `strikewire run` on the same database is refused with one line,
and the lock goes away with the process, however it ends.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from bot.store.database import DatabaseError


class DatabaseOwner:
    """Holds the lock on `<database>.lock` until `release`."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DatabaseError(
                f"another strikewire is running on {self.path.with_suffix('')} "
                "(one process per SQLite database; use PostgreSQL to run several)"
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None
