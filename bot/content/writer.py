"""Writing update files for organisers who publish from the chat.

The bot writes into `updates/` only, and only in two ways: a new file that
cannot overwrite anything (`write_new`), and an explicit replacement of a file
the catalog knows (`replace`, for /edit and /withdraw). Both are atomic: the
watcher sees the whole new text or nothing. The text is written the way a
person would write it by hand, so the file reads like any other.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
import unicodedata
from pathlib import Path

import yaml

from bot.content.items import SLUG
from bot.content.loader import split_front_matter

# Ids made from titles are cut here, at a word boundary.
MAX_SLUG = 48
# How many `-2`, `-3`, … a new file's id may try before giving up.
MAX_SUFFIX = 99
_TITLE_LINE = re.compile(r"^title:.*$", re.MULTILINE)
_WITHDRAWN_LINE = re.compile(r"^withdrawn:.*$", re.MULTILINE)


class WriteError(Exception):
    """The file could not be written; str() is one line for the admin's answer."""


def slug(title: str) -> str:
    """`Strike day: 12 March!` → `strike-day-12-march`; '' when nothing Latin is left."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_title.lower())
    out = ""
    for word in words:
        candidate = f"{out}-{word}" if out else word
        if len(candidate) > MAX_SLUG:
            break
        out = candidate
    return out if SLUG.match(out) else ""


def yaml_scalar(value: str) -> str:
    """`value` as one YAML scalar on one line, quoted only when it must be."""
    dumped = yaml.safe_dump(value, allow_unicode=True, width=10**9, default_style=None)
    return dumped.removesuffix("\n...\n").removesuffix("\n")


def news_file(title: str, body: str, day: dt.date) -> str:
    """A news update file as a person would write it."""
    return f"---\nkind: news\ntitle: {yaml_scalar(title)}\ndate: {day.isoformat()}\n---\n\n{body}\n"


def with_title_and_body(text: str, title: str, body: str) -> str:
    """The file `text` with a new title and body; every other key kept as written."""
    parts = split_front_matter(text)
    if parts is None:
        raise WriteError("the file has no front matter")
    front, _body, _line = parts
    if _TITLE_LINE.search(front):
        front = _TITLE_LINE.sub(lambda _m: f"title: {yaml_scalar(title)}", front, count=1)
    else:
        front = front.rstrip("\n") + f"\ntitle: {yaml_scalar(title)}\n"
    return f"---\n{front.strip(chr(10))}\n---\n\n{body}\n"


def with_withdrawn(text: str, reason: str | None) -> str:
    """The file `text` marked withdrawn (with the reason, if one was given)."""
    parts = split_front_matter(text)
    if parts is None:
        raise WriteError("the file has no front matter")
    front, body, _line = parts
    line = f"withdrawn: {yaml_scalar(reason) if reason else 'true'}"
    if _WITHDRAWN_LINE.search(front):
        front = _WITHDRAWN_LINE.sub(lambda _m: line, front, count=1)
    else:
        front = front.rstrip("\n") + "\n" + line
    # `body` starts with the newline that ends the closing '---' line.
    return f"---\n{front.strip(chr(10))}\n---{body}"


def _inside(directory: Path, path: Path) -> Path:
    real = path.resolve()
    if not real.is_relative_to(directory.resolve()):
        raise WriteError(f"{path.name} is outside {directory.name}/")
    return real


def _temporary(directory: Path, text: str) -> Path:
    # A hidden name the catalog never reads (loader.is_update_file).
    temporary = directory / f".draft-{secrets.token_hex(6)}.tmp"
    with open(temporary, "x", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    return temporary


def write_new(directory: Path, stems: list[str], text: str) -> Path:
    """Write `text` as the first of `directory/<stem>.md` that does not exist yet.

    Never overwrites: the name is taken with a hard link, which fails if the
    file exists, so two admins publishing the same title at once get two files.
    """
    directory.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(directory, text)
    try:
        for stem in stems:
            if not SLUG.match(stem):
                raise WriteError(f"{stem!r} is not a valid id")
            target = directory / f"{stem}.md"
            _inside(directory, target)
            try:
                os.link(temporary, target)
            except FileExistsError:
                continue
            return target
        raise WriteError("every name tried is taken")
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def candidates(stem: str) -> list[str]:
    """`stem`, then `stem-2` … `stem-99`."""
    return [stem] + [f"{stem}-{n}" for n in range(2, MAX_SUFFIX + 1)]


def replace(directory: Path, path: Path, text: str) -> None:
    """Atomically replace an existing update file inside `directory`."""
    real = _inside(directory, path)
    if not real.is_file():
        raise WriteError(f"{path.name} no longer exists")
    temporary = _temporary(real.parent, text)
    try:
        os.replace(temporary, real)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise WriteError(f"{path.name} could not be written ({exc.strerror})") from exc
