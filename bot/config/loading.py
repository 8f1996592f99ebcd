"""Reading the operator's config file: `${ENV}` secrets, and errors that name
the file, the line and the fix (the schema is sections.py).

A missing config file is not an error: every key has a default, and with no
platform section the bot runs the console adapter.

Every mistake is one `file:line: key: what and how to fix` line (`ConfigError`),
never a traceback: the file is size-checked before it is parsed, parsed by the
one safe YAML path (no anchors, bounded nesting), validated by the schema, and
then checked as a whole: an `updates_dir` that is not there, approvals that the
configured admins can never give.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.config.sections import Config
from bot.content.yamlpos import YamlError, load_yaml_with_lines
from bot.problems import Problem, problems_from_validation_error

DEFAULT_CONFIG = "config.yaml"
# A config is a few kilobytes; a larger file is a mistake (a log, a database).
MAX_CONFIG_BYTES = 256 * 1024
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """The config cannot be used; `problems` say where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(p.format() for p in problems))
        self.problems = problems


def _substitute_env(
    value: Any,
    path: Path,
    lines: dict[tuple[str | int, ...], int],
    loc: tuple[str | int, ...],
    problems: list[Problem],
) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            found = os.environ.get(name)
            if found is None:
                key = ".".join(str(p) for p in loc)
                problems.append(
                    Problem(
                        path,
                        lines.get(loc, 0),
                        f"{key}: environment variable {name} is not set "
                        f"(export {name}=… before starting)",
                    )
                )
                return ""
            return found

        return _ENV_REF.sub(replace, value)
    if isinstance(value, dict):
        return {k: _substitute_env(v, path, lines, (*loc, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute_env(v, path, lines, (*loc, i), problems) for i, v in enumerate(value)]
    return value


def config_path_from(arg: str | None) -> Path:
    """The config file to use: the -c argument, else $STRIKEWIRE_CONFIG, else config.yaml."""
    return Path(arg or os.environ.get("STRIKEWIRE_CONFIG") or DEFAULT_CONFIG)


def _admins(config: Config) -> int:
    """How many admins could approve a draft: the platforms' admins, or the
    console's one user when no platform is configured (the console runs then)."""
    if config.telegram is None and config.matrix is None:
        return 1
    telegram = len(config.telegram.admins) if config.telegram else 0
    matrix = len(config.matrix.admins) if config.matrix else 0
    return telegram + matrix


def _whole(config: Config, path: Path, lines: dict[tuple[str | int, ...], int]) -> list[Problem]:
    """What no single key shows: a missing folder, approvals no one can give."""
    problems = []
    if ("updates_dir",) in lines and not config.updates_path.is_dir():
        problems.append(
            Problem(
                path,
                lines[("updates_dir",)],
                f"updates_dir: {config.updates_dir} is not a folder (create it, or correct "
                "the path: a relative one starts from the config file's folder)",
            )
        )
    needed, admins = config.publishing.approvals, _admins(config)
    if needed > 1 and needed > admins:
        problems.append(
            Problem(
                path,
                lines.get(("publishing", "approvals"), 0),
                f"publishing.approvals: {needed} admins must approve each post, but only "
                f"{admins} {'admin is' if admins == 1 else 'admins are'} configured "
                "(add telegram.admins or matrix.admins, or lower approvals)",
            )
        )
    return problems


def _read(path: Path) -> str:
    """The config's text, its size checked before a byte is parsed."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                [
                    Problem(
                        path,
                        0,
                        f"is {size:,} bytes; a config may be at most {MAX_CONFIG_BYTES:,} "
                        "(is this the right file?)",
                    )
                ]
            )
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError([Problem(path, 0, "is not UTF-8 text")]) from None
    except OSError as exc:
        raise ConfigError([Problem(path, 0, f"cannot be read: {exc.strerror}")]) from None


def load_config(path: Path, *, required: bool = False) -> Config:
    """Read and validate the config file; raise ConfigError naming file and line."""
    base_dir = path.resolve().parent
    if not path.exists():
        if required:
            raise ConfigError(
                [Problem(path, 0, "no such config file (copy config.example.yaml to start one)")]
            )
        return Config(base_dir=Path.cwd())
    text = _read(path)
    try:
        data, lines = load_yaml_with_lines(text)
    except YamlError as exc:
        message = exc.message
        if "${" in "".join(text.splitlines()[exc.line - 1 : exc.line]) and "flow" in message:
            # `privacy: {key: ${STRIKEWIRE_KEY}}`: the braces end the mapping.
            message += ' (inside { } put ${VAR} in quotes: "${VAR}")'
        raise ConfigError([Problem(path, exc.line, message)]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([Problem(path, 1, "the config must be a mapping of keys to values")])
    problems: list[Problem] = []
    data = _substitute_env(data, path, lines, (), problems)
    if problems:
        raise ConfigError(problems)
    try:
        config = Config.model_validate(data).model_copy(update={"base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(problems_from_validation_error(exc, path, lines)) from None
    except (TypeError, ValueError, OverflowError) as exc:
        # A validator that did not expect the value's type: still one line.
        raise ConfigError([Problem(path, 0, f"cannot be used: {exc}")]) from None
    problems = _whole(config, path, lines)
    if problems:
        raise ConfigError(problems)
    return config
