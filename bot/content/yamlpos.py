"""YAML loading that remembers the line of every key.

PyYAML's composer keeps node positions; we walk the node tree once, building
the plain Python value and a map from key path (`("places", 1, "timezone")`)
to the 1-based line where it stands.
"""

from __future__ import annotations

from typing import Any

import yaml

Loc = tuple[str | int, ...]


class YamlError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """Safe loading without YAML's own timestamps: dates stay text, validated
    by the schema, so `2026-13-45` gets a message instead of a crash."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP]
    for first, resolvers in _Base.yaml_implicit_resolvers.items()
}


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                raise YamlError(key_node.start_mark.line + 1, f"{key}: is given twice")
            seen.add(key)
            child = (*loc, key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item_node in enumerate(node.value):
            child = (*loc, index)
            lines[child] = item_node.start_mark.line + 1
            _walk(item_node, child, lines)


def load_yaml_with_lines(text: str) -> tuple[Any, dict[Loc, int]]:
    """Parse one YAML document; return its value and the key → line map."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[Loc, int] = {(): node.start_mark.line + 1}
        _walk(node, (), lines)
        value = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or "is not valid YAML"
        if exc.context and exc.context_mark and exc.context_mark is not mark:
            problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise YamlError(line, f"broken YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlError(1, f"broken YAML: {exc}") from None
    except ValueError as exc:
        raise YamlError(1, f"broken YAML: {exc}") from None
    finally:
        loader.dispose()
    return value, lines
