"""YAML loading that remembers the line of every key, and refuses what could
exhaust the bot.

Every YAML the bot reads (update files, `/post` bodies, translations, the
config) comes through `load_yaml_with_lines`. Before anything is composed, the
parser's event stream is scanned once and the text is refused at the first
anchor or alias (`&a`, `*a`: a self-referring anchor recursed for ever, nine
nested ones expanded to gigabytes; organisers never need them), at the first
explicit tag (`!!binary`, `!!int`: some constructors crash), at a nesting
deeper than `MAX_DEPTH` and at more than `MAX_NODES` values. The scan stops
at the first refusal and holds one event at a time, so a hostile text costs
no more memory than its own size.

PyYAML's composer keeps node positions; we walk the node tree once, building
the plain Python value and a map from key path (`("places", 1, "timezone")`)
to the 1-based line where it stands.
"""

from __future__ import annotations

from typing import Any

import yaml

Loc = tuple[str | int, ...]

# An update's front matter is three levels deep (places → place → key) and the
# config five; anything near these bounds is a mistake or an attack.
MAX_DEPTH = 20
# Values (scalars, lists and mappings) in one text: a picket with hundreds of
# places stays far below it.
MAX_NODES = 20_000


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

_NO_ANCHORS = "write the value out in full: anchors (&name) and aliases (*name) are not accepted"


def _refusal(event: yaml.Event, depth: int, nodes: int) -> str | None:
    """Why the text must not be composed, judged at this event, or None."""
    if isinstance(event, yaml.AliasEvent):
        return f"the YAML alias *{event.anchor} is not allowed ({_NO_ANCHORS})"
    if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
        return f"the YAML anchor &{event.anchor} is not allowed ({_NO_ANCHORS})"
    tag = getattr(event, "tag", None)
    if isinstance(event, yaml.NodeEvent) and tag is not None:
        # `!!binary`, `!!set`, `!!int ''`: constructors nobody needs, some of
        # which crash on odd input.
        shown = str(tag).replace("tag:yaml.org,2002:", "!!")
        return f"the YAML tag {shown} is not allowed (write the plain value, in quotes if needed)"
    if depth > MAX_DEPTH:
        return f"is nested more than {MAX_DEPTH} levels deep (write it flatter)"
    if nodes > MAX_NODES:
        return f"has more than {MAX_NODES:,} YAML values (this much is a mistake: shorten it)"
    return None


def _scan(text: str) -> None:
    """Refuse anchors, aliases, deep nesting and too many values before composing."""
    depth = nodes = 0
    loader = _Loader(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            refused = _refusal(event, depth, nodes)
            if refused is not None:
                raise YamlError(event.start_mark.line + 1, refused)
    finally:
        loader.dispose()


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


def _compose(text: str) -> tuple[Any, dict[Loc, int]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[Loc, int] = {(): node.start_mark.line + 1}
        _walk(node, (), lines)
        return loader.construct_document(node), lines
    finally:
        loader.dispose()


def load_yaml_with_lines(text: str) -> tuple[Any, dict[Loc, int]]:
    """Parse one YAML document; return its value and the key → line map.

    Raises YamlError (with the line) for broken YAML and for what `_scan`
    refuses; never anything else."""
    try:
        _scan(text)
        return _compose(text)
    except YamlError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or "is not valid YAML"
        if exc.context and exc.context_mark and exc.context_mark is not mark:
            problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise YamlError(line, f"broken YAML: {problem}") from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        # The constructors raise these for values such as a timestamp with a
        # 99-hour offset: still a broken file, not a crash.
        raise YamlError(1, f"broken YAML: {exc}") from None
    except Exception as exc:  # PyYAML's own bugs (IndexError on `!!int ""`) must not stop the bot
        raise YamlError(1, f"broken YAML: cannot be read ({type(exc).__name__})") from None
