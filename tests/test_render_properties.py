"""Properties of the renderer for any text: parts fit, nothing is lost, markup is valid.

"Nothing is lost or reordered" is checked as: the visible text of the parts,
joined, equals the visible text of the same Markdown rendered as one unsplit
part, after deleting every whitespace character from both (a cut drops the
blank line, newline or space it replaces). For plain text `>` is deleted too,
because a quote's `> ` marker is repeated at the start of every part it spans.
Visible text of HTML is its text content with entities decoded.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cleantext import clean
from bot.render import escape_markdown, to_matrix, to_plain, to_telegram, utf16_len
from bot.render.validate import html_problems, visible_text

UNSPLIT = 10**9

MARKUP = [
    "*", "**", "***", "_", "__", "~~", "`", "``", "\n```\n", "\n```py\n", "\n", "\n\n", "\n\n\n",
    "> ", "\n> ", "- ", "\n- ", "\n  - ", "1. ", "\n2) ", "# ", "\n## ", "\n---\n", "    ",
    "[", "]", "](", ")", "(", "(https://e.org/?a=1&b=\"2\")", "<https://e.org/x>", "![alt](",
    "[x](javascript:alert(1))", "[y](tg://resolve?domain=z)", "<script>", "</b>", "<", ">",
    "&", "&amp;", "&#x1F600;", "\\", "!", "|", "#", "'", '"', "  \n", " ", "\t",
    "😀", "👨\u200d👩\u200d👧", "e\u0301", "Жёлтый", "𝕬",
]  # fmt: skip

pieces = st.one_of(
    st.sampled_from(MARKUP),
    st.text(max_size=12),
    st.text(alphabet="ab ", min_size=1, max_size=30),
    st.integers(min_value=40, max_value=500).map(lambda n: "w" * n),
)
texts = st.lists(pieces, max_size=40).map("".join)
small_limits = st.one_of(st.integers(min_value=50, max_value=300), st.just(4096))


def squeeze(text: str, drop: str = "") -> str:
    """The text with all whitespace (and the characters in `drop`) deleted."""
    return "".join(char for char in "".join(text.split()) if char not in drop)


@settings(max_examples=150, deadline=None)
@given(texts, small_limits)
def test_telegram_parts_fit_keep_everything_and_are_valid(text: str, limit: int) -> None:
    parts = to_telegram(text, limit)
    for part in parts:
        assert utf16_len(part) <= limit
        assert html_problems(part, "telegram") == [], part
    whole = to_telegram(text, UNSPLIT)
    assert len(whole) <= 1
    joined = "".join(visible_text(part) for part in parts)
    assert squeeze(joined) == squeeze("".join(visible_text(part) for part in whole))


@settings(max_examples=100, deadline=None)
@given(texts, st.one_of(st.integers(min_value=150, max_value=800), st.just(32_000)))
def test_matrix_parts_fit_keep_everything_and_are_valid(text: str, limit: int) -> None:
    parts = to_matrix(text, limit)
    for part in parts:
        event = {"body": part.body, "formatted_body": part.formatted_body}
        assert len(json.dumps(event).encode()) <= limit
        assert len(json.dumps(event, ensure_ascii=False).encode()) <= limit
        assert html_problems(part.formatted_body, "matrix") == [], part.formatted_body
    whole = to_matrix(text, UNSPLIT)
    assert len(whole) <= 1
    html = "".join(visible_text(part.formatted_body) for part in parts)
    assert squeeze(html) == squeeze("".join(visible_text(p.formatted_body) for p in whole))
    body = "".join(part.body for part in parts)
    assert squeeze(body, ">") == squeeze("".join(p.body for p in whole), ">")
    # the body is the plain rendering
    assert [part.body for part in whole] == to_plain(text)


@settings(max_examples=100, deadline=None)
@given(texts, st.integers(min_value=32, max_value=300))
def test_plain_parts_fit_and_keep_everything(text: str, limit: int) -> None:
    parts = to_plain(text, limit)
    assert all(len(part) <= limit for part in parts)
    assert squeeze("".join(parts), ">") == squeeze("".join(to_plain(text)), ">")


@settings(max_examples=150, deadline=None)
@given(
    st.text(
        alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=200
    )
)
def test_escaped_values_render_literally(value: str) -> None:
    markdown = escape_markdown(value)
    shown = clean(value)  # control characters are dropped from every message
    assert squeeze("".join(to_plain(markdown))) == squeeze(shown)
    telegram = to_telegram(markdown)
    assert all(html_problems(part, "telegram") == [] for part in telegram)
    assert all("<" not in part.replace("&lt;", "") for part in telegram)  # no markup at all
    assert squeeze("".join(visible_text(part) for part in telegram)) == squeeze(shown)
