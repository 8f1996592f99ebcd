"""A Telegram message's text and formatting entities, written as CommonMark Markdown.

Organisers write an update in the Telegram app (/post, /edit): what they see
there is what supporters should get. Bold, italic, strikethrough, links, code
and code blocks become the Markdown the renderer reads (`bot.render`:
CommonMark plus `~~strikethrough~~`); underline, spoiler, blockquote and
mentions become plain text. Everything typed as plain text is escaped just
enough to stay literal, so `*`, `_` or a line starting with `1.` or `#`
shows as typed. Where CommonMark cannot write an entity's edge (bold
punctuation glued to a letter: `x**.y**`), that edge loses its formatting,
never a character; where neighbouring emphasis would read otherwise than
meant, the renderer's own reading decides which of it is given up. Every
line of the message stays one line of the Markdown (only a code block's
fence lines are added), so a line number in an error message points at the
same line of the message.

Front matter pasted under the command line (`---`, `key: value` lines,
`---`) is copied as typed: it is data for the core, not text to show.

Entity offsets count UTF-16 code units (an emoji is two); they are turned
into Python string indices first. PTB's `text_markdown_v2` shows how nested
entities are walked, but MarkdownV2 is not CommonMark (`*x*` is bold there),
so the writing is our own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from telegram import MessageEntity

from bot.adapters.telegram_entities import WRAPS, Node, Span, clip, entity_spans, nest
from bot.render import to_telegram
from bot.render.validate import visible_text

__all__ = ["to_markdown"]

# Always escaped: they open emphasis, code, links, autolinks or escapes anywhere.
_INLINE = re.compile(r"([\\`*_\[\]<~])")
# `&amp;`-like text would become a character; a lone `&` (a=1&b=2) is harmless.
_CHAR_REF = re.compile(r"&(?=#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
# At the start of a line these begin a heading, quote, list or setext underline.
_LINE_START = frozenset("#>+-=")
_ORDERED = re.compile(r"^(\d{1,9})([.)])")
_FENCE = re.compile(r"---[ \t]*")
_LANGUAGE = re.compile(r"[A-Za-z0-9_+#.-]{1,32}")
_BACKTICKS = re.compile(r"`+")


def to_markdown(text: str, entities: Sequence[MessageEntity] = ()) -> str:
    """`text` with `entities` (as Telegram sent them: UTF-16 offsets) as Markdown."""
    spans = entity_spans(text, entities)
    raw = _front_matter(text)
    if raw is None:
        return _region(text, 0, len(text), spans)
    before = _region(text, 0, raw[0], [x for x in spans if x[1] <= raw[0]])
    after = _region(text, raw[1], len(text), [x for x in spans if x[0] >= raw[1]])
    return before + text[raw[0] : raw[1]] + after


def _region(text: str, start: int, end: int, spans: list[Span]) -> str:
    """`text[start:end]` as Markdown, with as much of its formatting as shows
    every character typed.

    Markers of neighbouring emphasis can meet (`*aaaa***a*a***`), and CommonMark
    then reads them as delimiter runs by rules of flanking and of multiples of
    three that the writing below follows only where they are simple: stray
    asterisks would show and letters lose their formatting. The renderer the
    text goes through judges instead: while what it shows is not what was typed,
    one emphasis at a time is given up (the one whose loss mends it, else the
    shortest), down to plain text, which always shows as typed."""
    markdown = _write(text, start, end, spans)
    typed = _squeezed(text[start:end])
    shows = _shown(markdown) == typed
    while spans and not shows:
        spans, markdown, shows = _without_one(text, start, end, spans, typed)
    return markdown


def _without_one(
    text: str, start: int, end: int, spans: list[Span], typed: str
) -> tuple[list[Span], str, bool]:
    """The spans less one emphasis, their Markdown, and whether it shows as typed."""
    emphasis = [span for span in spans if span[2].type in WRAPS] or spans
    candidates = sorted(emphasis, key=lambda span: (span[1] - span[0], span[0]))
    shortest: tuple[list[Span], str] | None = None
    for candidate in candidates:
        rest = [span for span in spans if span is not candidate]
        markdown = _write(text, start, end, rest)
        if _shown(markdown) == typed:
            return rest, markdown, True
        if shortest is None:
            shortest = rest, markdown
    assert shortest is not None  # spans is not empty
    return *shortest, False


def _write(text: str, start: int, end: int, spans: list[Span]) -> str:
    out = _Writer()
    _render(out, text, start, end, nest(spans))
    return out.markdown()


def _shown(markdown: str) -> str:
    """The characters a reader sees, blanks aside (the renderer may fold them)."""
    if not markdown.strip():
        return ""
    return _squeezed("".join(visible_text(part) for part in to_telegram(markdown)))


def _squeezed(text: str) -> str:
    return "".join(text.split())


def _front_matter(text: str) -> tuple[int, int] | None:
    """Where front matter pasted under the command line starts and ends, if any."""
    lines = text.split("\n")
    if len(lines) < 3 or not _FENCE.fullmatch(lines[1]):
        return None
    start = len(lines[0]) + 1
    position = start + len(lines[1]) + 1
    for line in lines[2:]:
        if _FENCE.fullmatch(line):
            return start, position + len(line)
        position += len(line) + 1
    return None


# ----- writing -------------------------------------------------------------------------


class _Writer:
    """Collects the Markdown and knows whether the next character starts a line.

    Plain text is held until markup follows, so text split only by where
    entities were (`&am` + `p;`, `1` + `. `) is escaped as the one piece it
    shows as."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.at_line_start = True
        self._plain: list[str] = []

    def plain(self, text: str) -> None:
        """Text the admin typed, escaped to show literally."""
        self._plain.append(text)

    def markup(self, text: str) -> None:
        self._flush(before_link=text.startswith("["))
        self.parts.append(text)
        self.at_line_start = False

    def raw(self, text: str) -> None:
        self._flush()
        if text:
            self.parts.append(text)
            self.at_line_start = text.endswith("\n")

    def new_line(self) -> None:
        self._flush()
        if not self.at_line_start:
            self.parts.append("\n")
            self.at_line_start = True

    def flushed_at_line_start(self) -> bool:
        """Whether the next markup would start a line."""
        self._flush()
        return self.at_line_start

    def markdown(self) -> str:
        self._flush()
        return "".join(self.parts)

    def _flush(self, *, before_link: bool = False) -> None:
        text = "".join(self._plain)
        self._plain.clear()
        for number, line in enumerate(text.split("\n")):
            if number:
                self.parts.append("\n")
                self.at_line_start = True
            if self.at_line_start:
                # Leading blanks could start a code block; Markdown drops them anyway.
                line = line.lstrip(" \t")
            if not line:
                continue
            line = _CHAR_REF.sub(r"\\&", _INLINE.sub(r"\\\1", line))
            if self.at_line_start:
                line = _line_start(line)
            self.parts.append(line)
            self.at_line_start = False
        if before_link and text.endswith("!") and self.parts[-1].endswith("!"):
            self.parts[-1] = self.parts[-1][:-1] + "\\!"  # `![` would start an image


def _line_start(line: str) -> str:
    """Escape what would start a heading, quote, list or setext underline."""
    if line[0] in _LINE_START:
        return "\\" + line
    return _ORDERED.sub(r"\1\\\2", line)


def _render(out: _Writer, text: str, start: int, end: int, nodes: list[Node]) -> None:
    position = start
    for node in nodes:
        out.plain(text[position : node.start])
        _render_node(out, text, node)
        position = node.end
    out.plain(text[position:end])


def _render_node(out: _Writer, text: str, node: Node) -> None:
    kind = node.entity.type
    if kind == MessageEntity.CODE:
        _code(out, text[node.start : node.end])
    elif kind == MessageEntity.PRE:
        _pre(out, text, node)
    elif kind in WRAPS:
        opening, closing = WRAPS[kind]
        _wrap(out, text, node, opening, closing)
    else:
        _wrap(out, text, node, "[", f"]({_destination(node.entity.url or '')})")


def _wrap(out: _Writer, text: str, node: Node, opening: str, closing: str) -> None:
    """Markers around each line of the span, blanks outside them: `** x**` would
    not be bold, and emphasis cannot cross a blank line."""
    emphasis = node.entity.type in WRAPS
    line_start = node.start
    while line_start <= node.end:
        newline = text.find("\n", line_start, node.end)
        line_end = node.end if newline == -1 else newline
        segment = text[line_start:line_end]
        first = line_start + len(segment) - len(segment.lstrip())
        last = line_start + len(segment.rstrip())
        children = clip(node.children, first, last)
        if emphasis:
            first, last = _flanking(text, first, last)
            children = clip(node.children, first, last)
            if _glued(text, first, last, children, opening[0]):
                _render(out, text, line_start, line_end, clip(node.children, line_start, line_end))
                if newline == -1:
                    break
                out.plain("\n")
                line_start = newline + 1
                continue
        if first < last:
            out.plain(text[line_start:first])
            out.markup(opening)
            _render(out, text, first, last, children)
            out.markup(closing)
            out.plain(text[last:line_end])
        else:
            out.plain(segment)
        if newline == -1:
            break
        out.plain("\n")
        line_start = newline + 1


def _punctuation(char: str) -> bool:
    """CommonMark's (and markdown-it's) punctuation: Unicode P* and S* categories."""
    return unicodedata.category(char).startswith(("P", "S"))


def _word(text: str, index: int) -> bool:
    """A letter, digit or the like at `index` (not blank, not punctuation, not past the end)."""
    return 0 <= index < len(text) and not text[index].isspace() and not _punctuation(text[index])


def _flanking(text: str, first: int, last: int) -> tuple[int, int]:
    """Narrow an emphasis span so its markers can open and close: `x**.y**` is
    no emphasis when punctuation inside meets a letter outside, nor is `** y**`.
    The punctuation or blank at the edge is left unformatted instead."""
    while first < last:
        if text[first].isspace() or (_punctuation(text[first]) and _word(text, first - 1)):
            first += 1
        elif text[last - 1].isspace() or (_punctuation(text[last - 1]) and _word(text, last)):
            last -= 1
        else:
            break
    return first, last


def _glued(text: str, first: int, last: int, children: list[Node], marker: str) -> bool:
    """Other markup at the edge of an emphasis span, touching a letter
    outside: `x*[y](u)*` or `x**~~y~~**` cannot open (`[` and `~` are
    punctuation; `***` would be one run). The span then goes without its
    emphasis rather than showing stray asterisks."""
    return (_word(text, first - 1) and _foreign_edge(children, first, marker, start=True)) or (
        _word(text, last) and _foreign_edge(children, last, marker, start=False)
    )


def _foreign_edge(children: list[Node], position: int, marker: str, *, start: bool) -> bool:
    """Whether markup other than `marker` is written at `position` (looking
    through emphasis with the same marker, whose run joins ours)."""
    for child in children:
        if (child.start if start else child.end) == position:
            if _opening_char(child) != marker:
                return True
            return _foreign_edge(child.children, position, marker, start=start)
    return False


def _opening_char(node: Node) -> str:
    kind = node.entity.type
    if kind in WRAPS:
        return WRAPS[kind][0][0]
    return "[" if kind == MessageEntity.TEXT_LINK else "`"


def _destination(url: str) -> str:
    """A link destination CommonMark reads back as `url`."""
    url = url.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")
    return re.sub(r"([\\()])", r"\\\1", url)


def _code(out: _Writer, content: str) -> None:
    """Code, one span per line: a line inside a span is still read for block
    syntax (`+ x` would start a list)."""
    for number, line in enumerate(content.split("\n")):
        if number:
            out.plain("\n")
        if not line.strip():
            out.plain(line)
            continue
        longest = max((len(run) for run in _BACKTICKS.findall(line)), default=0)
        if longest >= 2 and out.flushed_at_line_start():
            out.plain(line)  # three backticks at a line's start open a code block
            continue
        ticks = "`" * (longest + 1)
        # A space keeps a backtick at either end from joining the fence; CommonMark
        # strips one space from each side when both are there.
        pad = " " if line.startswith("`") or line.endswith("`") else ""
        if line.startswith(" ") and line.endswith(" "):
            pad = " "
        out.markup(f"{ticks}{pad}{line}{pad}{ticks}")


def _pre(out: _Writer, text: str, node: Node) -> None:
    content = text[node.start : node.end].strip("\n")
    longest = max(
        (len(run) for run in re.findall(r"^[ \t]*(`{3,})", content, re.MULTILINE)), default=0
    )
    fence = "`" * max(3, longest + 1)
    language = node.entity.language or ""
    info = language if _LANGUAGE.fullmatch(language) else ""
    out.new_line()
    out.raw(f"{fence}{info}\n{content}\n{fence}")
    if node.end < len(text) and text[node.end] != "\n":
        out.raw("\n")
