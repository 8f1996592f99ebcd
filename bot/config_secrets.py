"""Where the config keeps its secrets: `strikewire check`'s warnings.

A secret written into the config file is as safe as the file: readable by
group or others, anyone with an account on the machine can read it. A secret
given as `${VARIABLE}` is not in the file at all (only the variable's name),
so only secrets written out literally make the file's mode matter. The
database URL counts when it carries a password of its own.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.config import Config
from bot.content.yamlpos import YamlError, load_yaml_with_lines

SECRET_KEYS: tuple[tuple[str, ...], ...] = (
    ("telegram", "token"),
    ("telegram", "webhook", "secret_token"),
    ("matrix", "password"),
    ("matrix", "access_token"),
    ("privacy", "key"),
)
_ENV_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


def _raw(data: Any, loc: tuple[str, ...]) -> Any:
    for key in loc:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _written_out(loc: tuple[str, ...], value: Any) -> bool:
    """Whether the file itself holds (part of) the secret, not just ${NAMES}."""
    if value is None:
        return False
    literal = _ENV_REF.sub("", str(value)).strip()
    if loc == ("database", "url"):
        try:
            return bool(urlsplit(literal).password)
        except ValueError:
            return False
    return bool(literal)


def secrets_in_file(path: Path) -> list[str]:
    """The secret keys whose values are written out in the config file."""
    try:
        data, _lines = load_yaml_with_lines(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YamlError):
        return []
    keys = [*SECRET_KEYS, ("database", "url")]
    return [".".join(loc) for loc in keys if _written_out(loc, _raw(data, loc))]


def config_warnings(path: Path, config: Config) -> list[str]:
    """One line each: a webhook with no secret of its own, and secrets in a
    file that other users can read."""
    warnings = []
    hook = config.telegram.webhook if config.telegram is not None else None
    if hook is not None and hook.secret_token is None:
        warnings.append(
            f"{path}: warning: telegram.webhook has no secret_token: a new one is made at "
            "each start and given to Telegram (set secret_token: ${TELEGRAM_WEBHOOK_SECRET} "
            "to keep one)"
        )
    if os.name == "posix" and path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        written = secrets_in_file(path)
        if written and mode & (stat.S_IRGRP | stat.S_IROTH):
            warnings.append(
                f"{path}: warning: holds {', '.join(written)} and other users can read it "
                f"(mode {mode:04o}): run `chmod 600 {path}`, or give them as ${{VARIABLE}}"
            )
    return warnings
