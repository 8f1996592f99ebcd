"""Imports that run one way: each rule names a package that must never import
another, and why. A rule holds for every import statement in the package's
files (inside functions and `if TYPE_CHECKING:` too), read with `ast`, so a
back-edge is caught before it becomes an import cycle.

To add a rule, add a row to RULES."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Rule:
    importer: str  # a package or module, dotted (`bot.store`)
    forbidden: str  # what it must not import, dotted, with everything under it
    why: str


RULES = [
    Rule(
        "bot.privacy",
        "bot.store",
        "the key, sealing and identity marks are below the store, which uses them; "
        "whole-database sealing is bot/store/sealing.py, the subcommands bot/privacy_cli.py",
    ),
    Rule(
        "bot.store",
        "bot.privacy_cli",
        "encrypt, rotate-key and decrypt are commands above the store, built on it",
    ),
]


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _files(dotted: str) -> list[Path]:
    base = ROOT.joinpath(*dotted.split("."))
    if base.is_dir():
        return sorted(base.rglob("*.py"))
    return [base.with_suffix(".py")]


def imported(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, dotted name) of everything `source` (the text of `module`) imports;
    `from a import b` counts as both `a` and `a.b`, relative imports resolved."""
    found: list[tuple[int, str]] = []
    here = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def violations(rule: Rule) -> list[str]:
    found = []
    for path in _files(rule.importer):
        module = _module_name(path)
        source = path.read_text(encoding="utf-8")
        for line, name in imported(source, module, path.name == "__init__.py"):
            if _within(name, rule.forbidden):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return sorted(set(found))


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.importer}-not-{r.forbidden}")
def test_imports_run_one_way(rule: Rule) -> None:
    assert _files(rule.importer) and all(p.exists() for p in _files(rule.importer))
    assert violations(rule) == [], f"{rule.importer} must not import {rule.forbidden}: {rule.why}"


def test_the_check_sees_every_form_of_import() -> None:
    source = (
        "import bot.store\n"
        "from bot.store.schema import outbox\n"
        "from bot import store\n"
        "def f():\n    from ..store import database\n"
        "from . import keys\n"
        "import bot.privacy_cli\n"
    )
    found = imported(source, "bot.privacy.marks")
    names = [name for _, name in found]
    assert sorted({line for line, name in found if _within(name, "bot.store")}) == [1, 2, 3, 5]
    assert "bot.store.database" in names
    # A sibling module whose name merely starts alike is another module.
    assert not _within("bot.privacy_cli", "bot.privacy")
    assert "bot.privacy.keys" in names
