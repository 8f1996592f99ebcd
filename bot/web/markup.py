"""Markdown from update files → HTML for the pages and the feed.

markdown-it-py with raw HTML off (HTML in a file shows as text), images off
(a remote image would tell a third party who reads the page) and only the
link targets the chat renderers allow (http(s), mailto, tg).
"""

from __future__ import annotations

import functools

from markdown_it import MarkdownIt
from markupsafe import Markup

from bot.render.walk import is_safe_url


@functools.cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("strikethrough").disable("image")
    md.validateLink = is_safe_url  # type: ignore[method-assign]
    return md


def to_html(markdown: str) -> Markup:
    """Safe HTML for a Markdown text: nothing in it can run or load anything."""
    return Markup(_parser().render(markdown))  # noqa: S704 (markdown-it escapes; raw HTML is off)
