"""Turn Markdown into the unit stream of `bot.render.stream`, for every output at once.

markdown-it-py parses (CommonMark plus strikethrough, raw HTML off so HTML in
a file is text); this module decides what each node looks like in Telegram
HTML, Matrix HTML and plain text, and where a message may be cut.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from bot.render.stream import (
    BLOCK,
    LINE,
    NESTED,
    PLAIN,
    Brk,
    Close,
    Frame,
    Lit,
    Open,
    Retag,
    Strings,
    Text,
    Unit,
    escape_attr,
)

_PLAIN_ONLY = frozenset({PLAIN})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_LANGUAGE = re.compile(r"[A-Za-z0-9_+#.-]{1,32}")
RULE = "———"
BULLET = "• "


@functools.cache
def _parser() -> MarkdownIt:
    # Parsing keeps no state in the instance between calls, so one is shared.
    return MarkdownIt("commonmark", {"html": False}).enable("strikethrough")


def is_safe_url(url: str) -> bool:
    """True for the link targets we send as links: http(s) with a host, mailto, tg."""
    match = _SCHEME.match(url)
    if match is None:
        return False
    scheme = match.group(1).lower()
    if scheme in ("http", "https"):
        return url[match.end() :].startswith("//") and len(url) > match.end() + 2
    return scheme in ("mailto", "tg")


def _frame(tg: tuple[str, str], mx: tuple[str, str], plain: tuple[str, str] = ("", "")) -> Frame:
    return Frame(open=(tg[0], mx[0], plain[0]), close=(tg[1], mx[1], plain[1]))


_EM = _frame(("<i>", "</i>"), ("<em>", "</em>"))
_STRONG = _frame(("<b>", "</b>"), ("<strong>", "</strong>"))
_STRIKE = _frame(("<s>", "</s>"), ("<del>", "</del>"))
_PARAGRAPH = _frame(("", ""), ("<p>", "</p>"))
_ITEM = _frame(("", ""), ("<li>", "</li>"))
_BULLETS = _frame(("", ""), ("<ul>", "</ul>"))
# Reserve room for the digits of a `start` attribute added when the list is reopened.
_OL_SLACK = 24


@dataclass(frozen=True)
class _Ctx:
    depth: int = 0
    tg_indent: str = ""  # after a newline in Telegram text: list continuation
    plain_prefix: str = ""  # after a newline in plain text: quote markers, list continuation
    tg_quoted: bool = False  # Telegram refuses nested blockquotes
    in_link: bool = False  # Telegram refuses code inside a link; HTML refuses a link in a link

    def newline(self) -> Strings:
        return ("\n" + self.tg_indent, "\n", "\n" + self.plain_prefix)

    def blank_line(self) -> Strings:
        plain = "\n" + self.plain_prefix.rstrip() + "\n" + self.plain_prefix
        return ("\n\n" + self.tg_indent, "\n", plain)

    def inner(self, tg_indent: str = "", plain_prefix: str = "") -> _Ctx:
        return replace(
            self,
            depth=self.depth + 1,
            tg_indent=self.tg_indent + tg_indent,
            plain_prefix=self.plain_prefix + plain_prefix,
        )


def _plain_text(nodes: Sequence[SyntaxTreeNode]) -> str:
    parts: list[str] = []
    for node in nodes:
        if node.type in ("text", "code_inline"):
            parts.append(node.content)
        elif node.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        else:
            parts.append(_plain_text(node.children))
    return "".join(parts)


class _Walker:
    def __init__(self, md: MarkdownIt) -> None:
        self.md = md
        self.out: list[Unit] = []

    def blocks(self, nodes: Sequence[SyntaxTreeNode], ctx: _Ctx, tight: bool) -> None:
        for index, node in enumerate(nodes):
            if index:
                sep = ctx.newline() if tight else ctx.blank_line()
                self.out.append(Brk(BLOCK if ctx.depth == 0 else NESTED, sep))
            self.block(node, ctx)

    def block(self, node: SyntaxTreeNode, ctx: _Ctx) -> None:
        kind = node.type
        if kind == "paragraph":
            self.wrapped(None if node.hidden else _PARAGRAPH, node.children, ctx)
        elif kind == "heading":
            level = node.tag
            self.wrapped(_frame(("<b>", "</b>"), (f"<{level}>", f"</{level}>")), node.children, ctx)
        elif kind == "blockquote":
            tg = ("", "") if ctx.tg_quoted else ("<blockquote>", "</blockquote>")
            self.out.append(Open(_frame(tg, ("<blockquote>", "</blockquote>"), ("> ", ""))))
            self.blocks(node.children, replace(ctx.inner(plain_prefix="> "), tg_quoted=True), False)
            self.out.append(Close())
        elif kind in ("bullet_list", "ordered_list"):
            self.list(node, ctx)
        elif kind in ("code_block", "fence"):
            self.code(node, ctx)
        elif kind == "hr":
            self.out.append(Lit((RULE, "<hr>", RULE)))
        elif kind == "inline":
            self.inlines(node.children, ctx)
        elif node.children:
            self.blocks(node.children, ctx, False)
        elif node.content:
            self.out.append(Text(node.content))

    def wrapped(self, frame: Frame | None, nodes: Sequence[SyntaxTreeNode], ctx: _Ctx) -> None:
        if frame is not None:
            self.out.append(Open(frame))
        for node in nodes:
            self.block(node, ctx)
        if frame is not None:
            self.out.append(Close())

    def list(self, node: SyntaxTreeNode, ctx: _Ctx) -> None:
        ordered = node.type == "ordered_list"
        start = int(str(node.attrs.get("start", 1))) if ordered else 1
        items = node.children
        tight = any(p.hidden for item in items for p in item.children if p.type == "paragraph")
        tight = tight or all(p.type != "paragraph" for item in items for p in item.children)

        def list_frame(number: int) -> Frame:
            if not ordered:
                return _BULLETS
            tag = "<ol>" if number == 1 else f'<ol start="{number}">'
            return Frame(("", tag, ""), ("", "</ol>", ""), slack=_OL_SLACK)

        self.out.append(Open(list_frame(start)))
        for index, item in enumerate(items):
            number = start + index
            if index:
                if ordered:
                    self.out.append(Retag(list_frame(number)))
                rank = BLOCK if ctx.depth == 0 else NESTED
                self.out.append(Brk(rank, ctx.newline() if tight else ctx.blank_line()))
            marker = f"{number}{node.markup} " if ordered else BULLET
            self.out.append(Open(_ITEM))
            self.out.append(Lit((marker, "", marker)))
            pad = " " * len(marker)
            self.blocks(item.children, ctx.inner(tg_indent=pad, plain_prefix=pad), tight)
            self.out.append(Close())
        self.out.append(Close())

    def code(self, node: SyntaxTreeNode, ctx: _Ctx) -> None:
        words = node.info.split() if node.type == "fence" else []
        language = words[0] if words and _LANGUAGE.fullmatch(words[0]) else ""
        code = f'<code class="language-{language}">' if language else ""
        self.out.append(
            Open(
                _frame(
                    ("<pre>" + code, ("</code>" if code else "") + "</pre>"),
                    ("<pre>" + (code or "<code>"), "</code></pre>"),
                )
            )
        )
        content = node.content.removesuffix("\n")
        for index, line in enumerate(content.split("\n")):
            if index:
                self.out.append(Brk(LINE, ("\n", "\n", "\n" + ctx.plain_prefix)))
            if line:
                self.out.append(Text(line, verbatim=True))
        self.out.append(Close())

    def inlines(self, nodes: Sequence[SyntaxTreeNode], ctx: _Ctx) -> None:
        for node in nodes:
            self.inline(node, ctx)

    def inline(self, node: SyntaxTreeNode, ctx: _Ctx) -> None:
        kind = node.type
        if kind == "text":
            self.out.append(Text(node.content))
        elif kind in ("softbreak", "hardbreak"):
            tg, _, plain = ctx.newline()
            self.out.append(Brk(LINE, (tg, "<br>", plain)))
        elif kind == "code_inline":
            tags = ("", "") if ctx.in_link else ("<code>", "</code>")
            self.out.append(Open(_frame(tags, ("<code>", "</code>"))))
            self.out.append(Text(node.content, verbatim=True))
            self.out.append(Close())
        elif kind in ("em", "strong", "s"):
            frame = {"em": _EM, "strong": _STRONG, "s": _STRIKE}[kind]
            self.out.append(Open(frame))
            self.inlines(node.children, ctx)
            self.out.append(Close())
        elif kind == "link":
            self.link(str(node.attrs.get("href", "")), node.children, ctx)
        elif kind == "image":
            alt = _plain_text(node.children)
            src = str(node.attrs.get("src", ""))
            label = alt or self.md.normalizeLinkText(src)
            if ctx.in_link or not is_safe_url(src):
                self.out.append(Text(label))
            else:
                self.anchor(src, label, lambda: self.out.append(Text(label)))
        elif node.children:
            self.inlines(node.children, ctx)
        elif node.content:
            self.out.append(Text(node.content))

    def link(self, href: str, children: Sequence[SyntaxTreeNode], ctx: _Ctx) -> None:
        if ctx.in_link or not is_safe_url(href):
            self.inlines(children, ctx)
            return
        inner = replace(ctx, in_link=True)
        self.anchor(href, _plain_text(children), lambda: self.inlines(children, inner))

    def anchor(self, href: str, label: str, body: Callable[[], None]) -> None:
        tag = f'<a href="{escape_attr(href)}">'
        self.out.append(Open(_frame((tag, "</a>"), (tag, "</a>"))))
        body()
        self.out.append(Close())
        shown = self.md.normalizeLinkText(href)
        if label not in (shown, shown.removeprefix("mailto:")):
            self.out.append(Text(f" ({shown})", _PLAIN_ONLY))


def walk(markdown: str) -> list[Unit]:
    """Render `markdown` into units for every channel, without cutting it."""
    md = _parser()
    tokens = md.parse(markdown)
    # At its nesting limit markdown-it silently skips the rest of the document;
    # a text nested that deep is shown as it was written rather than lost.
    if any(token.level >= md.options["maxNesting"] - 1 for token in tokens):
        return _literal(markdown)
    walker = _Walker(md)
    walker.blocks(SyntaxTreeNode(tokens).children, _Ctx(), False)
    return walker.out


def _literal(markdown: str) -> list[Unit]:
    out: list[Unit] = []
    paragraphs = re.split(r"\n[ \t]*\n", markdown.replace("\r\n", "\n").strip())
    for number, paragraph in enumerate(p for p in paragraphs if p.strip()):
        if number:
            out.append(Brk(BLOCK, ("\n\n", "\n", "\n\n")))
        out.append(Open(_PARAGRAPH))
        for index, line in enumerate(paragraph.split("\n")):
            if index:
                out.append(Brk(LINE, ("\n", "<br>", "\n")))
            out.append(Text(line))
        out.append(Close())
    return out
