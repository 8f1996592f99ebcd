"""A Telegram message's formatting entities as a tree of spans over the text.

Entity offsets count UTF-16 code units (an emoji is two); `entity_spans`
turns them into Python string indices, drops what writes no markup and joins
neighbours of one kind; `nest` makes the tree telegram_markdown.py writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from telegram import MessageEntity

WRAPS = {
    MessageEntity.BOLD: ("**", "**"),
    MessageEntity.ITALIC: ("*", "*"),
    MessageEntity.STRIKETHROUGH: ("~~", "~~"),
}
# Entities that cannot contain others (the Bot API says so); any inside are dropped.
LEAVES = frozenset({MessageEntity.CODE, MessageEntity.PRE})
# The ones that write markup; the others (underline, spoiler, mentions...) are
# dropped before nesting, so the text they cover is escaped as one piece.
MARKUP = frozenset({*WRAPS, MessageEntity.TEXT_LINK, *LEAVES})


# (start, end, entity) in Python string indices.
Span = tuple[int, int, MessageEntity]


@dataclass
class Node:
    start: int
    end: int
    entity: MessageEntity
    children: list[Node] = field(default_factory=list)


def entity_spans(text: str, entities: Sequence[MessageEntity]) -> list[Span]:
    """(start, end, entity) in Python indices, clipped to the text, empty ones dropped."""
    # Python index of every UTF-16 offset that starts a character.
    index: dict[int, int] = {}
    units = 0
    for position, char in enumerate(text):
        index[units] = position
        units += 2 if ord(char) > 0xFFFF else 1
    index[units] = len(text)

    def at(offset: int) -> int:
        while offset not in index and offset < units:
            offset += 1  # an offset inside a surrogate pair: round to the next character
        return index.get(offset, len(text))

    found = []
    for entity in entities:
        if entity.type not in MARKUP or (entity.type == MessageEntity.TEXT_LINK and not entity.url):
            continue
        start, end = at(max(entity.offset, 0)), at(max(entity.offset + entity.length, 0))
        if start < end:
            found.append((start, end, entity))
    return merge_adjacent(found)


def merge_adjacent(
    spans: list[Span],
) -> list[Span]:
    """Join bold next to bold (and the like): `**a****b**` would not read as
    bold, nor `` `a``b` `` as two pieces of code."""
    spans.sort(key=lambda s: (s[0], -s[1]))
    merged: list[Span] = []
    for start, end, entity in spans:
        if entity.type in WRAPS or entity.type == MessageEntity.CODE:
            for i, (s, e, other) in enumerate(merged):
                if other.type == entity.type and e == start:
                    merged[i] = (s, end, other)
                    break
            else:
                merged.append((start, end, entity))
        else:
            merged.append((start, end, entity))
    merged.sort(key=lambda s: (s[0], -s[1]))
    return merged


def nest(spans: list[Span]) -> list[Node]:
    """Nest the spans; one that overlaps its parent's end is cut there."""
    roots: list[Node] = []
    stack: list[Node] = []
    for start, end, entity in sorted(spans, key=lambda s: (s[0], -s[1])):
        while stack and stack[-1].end <= start:
            stack.pop()
        if stack:
            parent = stack[-1]
            if parent.entity.type in LEAVES or any(n.entity.type == entity.type for n in stack):
                continue  # bold in bold, a link in a link: the outer one says it all
            if entity.type == MessageEntity.PRE:
                continue  # a code block is a block: inside a link or bold it is text
            end = min(end, parent.end)
            if end <= start:
                continue
        node = Node(start, end, entity)
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)
    return roots


def clip(nodes: list[Node], start: int, end: int) -> list[Node]:
    clipped = []
    for node in nodes:
        s, e = max(node.start, start), min(node.end, end)
        if s < e:
            clipped.append(Node(s, e, node.entity, clip(node.children, s, e)))
    return clipped
