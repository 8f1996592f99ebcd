"""No function in bot/ is over 60 lines and no module over 400 (issue #31):
a newcomer reads a function on one screen and a module in one sitting."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOT = ROOT / "bot"

MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def _sources() -> list[tuple[str, str]]:
    return [
        (path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8"))
        for path in sorted(BOT.rglob("*.py"))
    ]


def test_no_module_is_over_400_lines() -> None:
    long = [
        f"{name}: {len(text.splitlines())} lines"
        for name, text in _sources()
        if len(text.splitlines()) > MAX_MODULE_LINES
    ]
    assert long == []


def test_no_function_is_over_60_lines() -> None:
    long = []
    for name, text in _sources():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name}:{node.lineno}: {node.name} is {lines} lines")
    assert long == []
