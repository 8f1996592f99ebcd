"""The static mirror on disk: `strikewire site -o DIR` makes DIR exactly the
current site, swapped in whole.

DIR is a symbolic link to a sibling folder `.DIR.site-<8 hex>`. Each run
writes every file into a new such folder, then points DIR at it with one
`rename()` of a new link over the old one (atomic on POSIX), then deletes the
previous folder. A web server reading DIR finds the old site or the new one,
never half of each, and a withdrawn or deleted update's pages are gone.

A DIR the bot did not make is never wiped: a plain folder is taken over only
when it is empty or holds nothing but names the site writes (the mirror of an
earlier version, which wrote files in place); a link only when it points at
one of its own sibling folders. Two runs at once take turns (a lock on the
parent folder), so neither deletes the folder the other is building.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from bot.web.site import Site, is_site_name, write_site


class MirrorError(Exception):
    """DIR cannot be the mirror; str() is one line for the operator."""


def publish(site: Site, directory: Path, now: datetime) -> int:
    """Make `directory` the current site in one swap; return how many files it has."""
    directory = Path(os.path.abspath(directory))  # not resolve(): DIR itself is the link
    parent = directory.parent
    parent.mkdir(parents=True, exist_ok=True)
    with _locked(parent):
        plain = _check(directory)
        build = parent / f".{directory.name}.site-{secrets.token_hex(4)}"
        build.mkdir()
        try:
            count = write_site(site, build, now)
            _swap(directory, build, plain=plain)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        _remove_leftovers(directory, keep=build.name)
    return count


def _own(directory: Path) -> re.Pattern[str]:
    """The names of DIR's own siblings: builds, a moved-away old folder, a new link."""
    return re.compile(re.escape(f".{directory.name}.site-") + r"[0-9a-f]{8}(\.link)?")


@contextmanager
def _locked(parent: Path) -> Iterator[None]:
    fd = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _check(directory: Path) -> bool:
    """Whether DIR is a plain folder to take over (False: absent or our link);
    MirrorError when it is something the bot did not make."""
    shown = str(directory)
    if directory.is_symlink():
        target = os.readlink(directory)
        if _own(directory).fullmatch(target) is None:
            raise MirrorError(
                f"{shown} is a link the bot did not make (to {target}); "
                "give -o a new folder or the folder of an earlier `strikewire site`"
            )
        return False
    if not directory.exists():
        return False
    if not directory.is_dir():
        raise MirrorError(f"{shown} is a file, not a folder; give -o a new or empty folder")
    foreign = _foreign(directory)
    if foreign is not None:
        raise MirrorError(
            f"{shown} holds {foreign}, which `strikewire site` did not write: "
            "the mirror replaces the whole folder, so give -o a new or empty folder"
        )
    return True


def _foreign(directory: Path) -> str | None:
    """The first entry of a plain folder that is not a site file, if any.
    Only `u/` and `m/` are looked into: a home folder is judged by its first level."""
    for path in sorted(directory.iterdir()):
        if path.name in ("u", "m") and path.is_dir() and not path.is_symlink():
            for inner in sorted(path.iterdir()):
                name = f"{path.name}/{inner.name}"
                if inner.is_symlink() or not inner.is_file() or not is_site_name(name):
                    return name
        elif path.is_symlink() or not path.is_file() or not is_site_name(path.name):
            return path.name
    return None


def _swap(directory: Path, build: Path, *, plain: bool) -> None:
    """Point DIR at `build`: a new link renamed over the old one. A plain folder
    (from an earlier version) is moved aside first: for that one moment DIR
    is missing, which a reader sees as a 404, never as a mix."""
    link = build.with_name(build.name + ".link")
    link.symlink_to(build.name)
    try:
        if plain:
            directory.rename(directory.with_name(f".{directory.name}.site-{secrets.token_hex(4)}"))
        os.replace(link, directory)
    except BaseException:
        link.unlink(missing_ok=True)
        raise


def _remove_leftovers(directory: Path, *, keep: str) -> None:
    """Delete the previous build, a moved-away old folder, a crashed run's files."""
    own = _own(directory)
    for path in directory.parent.iterdir():
        if path.name == keep or own.fullmatch(path.name) is None:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
