"""Check rendered HTML the way a platform would before it is sent (and in tests).

Independent of the renderer: it reads a finished part with the standard
library's `html.parser` and lists every way it would be refused or shown
wrongly: a tag or attribute the platform does not accept, unbalanced or
badly nested tags, a nesting Telegram forbids, a bare `<`, `>` or `&`.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Final, Literal

Platform = Literal["telegram", "matrix"]

_TELEGRAM: Final[dict[str, frozenset[str]]] = {
    "b": frozenset(),
    "i": frozenset(),
    "u": frozenset(),
    "s": frozenset(),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "blockquote": frozenset(),
}
_MATRIX: Final[dict[str, frozenset[str]]] = {
    **{tag: frozenset() for tag in ("p", "strong", "em", "del", "pre", "blockquote", "ul", "li")},
    **{f"h{level}": frozenset() for level in range(1, 7)},
    "br": frozenset(),
    "hr": frozenset(),
    "ol": frozenset({"start"}),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
}
_VOID: Final = frozenset({"br", "hr"})
_TAG = re.compile(r"<[^<>]*>")
_BARE_AMPERSAND = re.compile(r"&(?!(?:lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);)")


class _Checker(HTMLParser):
    def __init__(self, platform: Platform) -> None:
        super().__init__(convert_charrefs=True)
        self.platform = platform
        self.allowed = _TELEGRAM if platform == "telegram" else _MATRIX
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.allowed:
            self.problems.append(f"tag <{tag}> is not allowed")
            return
        names = [name for name, _ in attrs]
        if extra := set(names) - self.allowed[tag]:
            self.problems.append(f"<{tag}> has attributes {sorted(extra)}")
        if tag == "a" and "href" not in names:
            self.problems.append("<a> without href")
        for name, value in attrs:
            if name == "class" and not (value or "").startswith("language-"):
                self.problems.append(f"<{tag}> class {value!r} is not language-*")
        if self.platform == "telegram":
            self.telegram_nesting(tag, attrs)
        if tag not in _VOID:
            self.stack.append(tag)

    def telegram_nesting(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        parent = self.stack[-1] if self.stack else None
        if parent == "code" or (parent == "pre" and tag != "code"):
            self.problems.append(f"<{tag}> inside <{parent}>")
        if tag in ("blockquote", "a", "pre") and tag in self.stack:
            self.problems.append(f"<{tag}> nested in <{tag}>")
        if tag == "code" and "a" in self.stack:
            self.problems.append("<code> inside <a>")
        if tag == "code" and attrs and parent != "pre":
            self.problems.append("language class on a <code> outside <pre>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.problems.append(f"self-closing <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or tag not in self.allowed:
            self.problems.append(f"end tag </{tag}> is not allowed")
        elif not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.problems.append("comment")

    def handle_decl(self, decl: str) -> None:
        self.problems.append("declaration")

    def handle_pi(self, data: str) -> None:
        self.problems.append("processing instruction")

    def unknown_decl(self, data: str) -> None:
        self.problems.append("unknown declaration")


def html_problems(html: str, platform: Platform) -> list[str]:
    """Every reason `platform` would refuse or mangle `html`; empty when it is fine."""
    checker = _Checker(platform)
    checker.feed(html)
    checker.close()
    problems = list(checker.problems)
    if checker.stack:
        problems.append(f"unclosed {checker.stack}")
    text = _TAG.sub("", html)
    if "<" in text or ">" in text:
        problems.append("bare < or > in text")
    if _BARE_AMPERSAND.search(html):
        problems.append("bare & (not an entity)")
    return problems


def visible_text(html: str) -> str:
    """The text a reader sees in `html`: tags removed, entities decoded."""
    checker = _Checker("matrix")
    checker.feed(html)
    checker.close()
    return "".join(checker.text)
