"""Problems found in a file, formatted as `path:line: what is wrong (the fix)`.

Config and update files share this: a problem names the file and the line of
the offending key so a person can go straight to it. A *warning* is a problem
that does not make the file invalid (an update dated in the future, a file
name the bot does not read): it is shown as `path:line: warning: …`.
A problem's line is shown with control characters escaped (`\\n`, `\\x1b`), so a
file name holding a newline or an escape sequence stays one line on a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.cleantext import has_bad_chars


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int  # 1-based; 0 when the problem is the file as a whole
    message: str
    # A warning is shown but leaves the file valid (and `check`'s exit 0).
    warning: bool = False

    def format(self) -> str:
        """One line, whatever the file name or the quoted value holds."""
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return shown_path(f"{where}: {'warning: ' if self.warning else ''}{self.message}")


def _escaped(char: str) -> str:
    if char in "\t\n" or has_bad_chars(char):
        return char.encode("unicode_escape", "backslashreplace").decode("ascii")
    return char


def shown_path(path: Path | str) -> str:
    """`path` (or any text) for a one-line message: newlines, tabs, control characters and
    undecodable bytes (lone surrogates) escaped, everything else as it is."""
    text = str(path)
    if not has_bad_chars(text) and "\n" not in text and "\t" not in text:
        return text
    return "".join(_escaped(c) for c in text)


Loc = tuple[str | int, ...]


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int:
    # Walk up from the exact key to its parents: a missing key is reported at
    # the mapping that should hold it.
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 0


def _describe(error: Any) -> str:
    kind = error["type"]
    message: str = error["msg"]
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        return "is not a known key (check its spelling)"
    if kind in ("literal_error", "enum"):
        expected = error.get("ctx", {}).get("expected", "")
        return f"{error.get('input')!r} is not allowed (use {expected})"
    if kind == "path_type":
        return f"{error.get('input')!r} is not a path (write a folder name such as updates)"
    if kind == "string_too_short":
        return "is empty (write it in quotes, or remove the key)"
    if kind == "string_too_long":
        limit = error.get("ctx", {}).get("max_length")
        return f"is too long (at most {limit} characters)"
    if message.startswith("Value error, "):
        return message[len("Value error, ") :]
    if message.startswith("Input should be"):
        return f"{error.get('input')!r}: {message[0].lower()}{message[1:]}"
    return message


def problems_from_validation_error(
    exc: ValidationError, path: Path, lines: dict[Loc, int], line_offset: int = 0
) -> list[Problem]:
    """Turn pydantic's errors into Problems at the lines of the offending keys."""
    problems = []
    for error in exc.errors():
        loc: Loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
        key = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in loc).replace(".[", "[")
        line = _line_for(loc, lines)
        text = _describe(error)
        problems.append(
            Problem(path, line + line_offset if line else 0, f"{key}: {text}" if key else text)
        )
    return problems
