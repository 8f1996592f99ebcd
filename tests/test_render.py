"""The renderer with hostile and large texts: what each platform would show."""

from __future__ import annotations

import itertools
import json
import re

import pytest

from bot.render import (
    MatrixPart,
    escape_markdown,
    json_size,
    to_matrix,
    to_plain,
    to_telegram,
    utf16_len,
)
from bot.render.validate import html_problems, visible_text

SPECIALS = "< > & \" ' ` * _ [ ] ( ) # ! | ~ \\"


def telegram_ok(parts: list[str], limit: int = 4096) -> None:
    for part in parts:
        assert utf16_len(part) <= limit
        assert html_problems(part, "telegram") == [], part


def matrix_ok(parts: list[MatrixPart], limit: int = 32_000) -> None:
    for part in parts:
        event = {"body": part.body, "formatted_body": part.formatted_body}
        assert len(json.dumps(event).encode()) <= limit
        assert len(json.dumps(event, ensure_ascii=False).encode()) <= limit
        assert html_problems(part.formatted_body, "matrix") == [], part.formatted_body


def one(parts: list[str]) -> str:
    assert len(parts) == 1, parts
    return parts[0]


# -- hostile characters -------------------------------------------------------


def test_script_tag_arrives_as_text_everywhere() -> None:
    text = "<script>alert(1)</script>"
    assert one(to_telegram(text)) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    [part] = to_matrix(text)
    assert part.formatted_body == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert part.body == text
    assert to_plain(text) == [text]


def test_raw_html_block_and_inline_tags_are_text() -> None:
    text = '<div onclick="x()">\n<b>bold?</b> <img src=x onerror=alert(1)>\n</div>'
    part = one(to_telegram(text))
    telegram_ok([part])
    assert "<b>" not in part
    assert visible_text(part) == text
    matrix_ok(to_matrix(text))


def test_stray_ampersands_are_escaped_once() -> None:
    assert one(to_telegram("AT&T & co")) == "AT&amp;T &amp; co"
    # an entity in the Markdown is decoded by Markdown, then escaped again for HTML
    assert one(to_telegram("fish &amp; chips &notanentity;")) == (
        "fish &amp; chips &amp;notanentity;"
    )
    assert one(to_plain("fish &amp; chips")) == "fish & chips"


def test_every_special_character_is_escaped_or_rendered() -> None:
    text = "x < y > z & \"q\" 'a' # ! | ~ ( ) [ ]"
    part = one(to_telegram(text))
    assert part == "x &lt; y &gt; z &amp; \"q\" 'a' # ! | ~ ( ) [ ]"
    telegram_ok([part])


def test_escaped_specials_render_literally_on_every_platform() -> None:
    markdown = escape_markdown(SPECIALS)
    telegram = one(to_telegram(markdown))
    telegram_ok([telegram])
    assert visible_text(telegram) == SPECIALS
    [matrix] = to_matrix(markdown)
    assert visible_text(matrix.formatted_body) == SPECIALS
    assert matrix.body == SPECIALS
    assert to_plain(markdown) == [SPECIALS]


@pytest.mark.parametrize(
    "value",
    [
        "# not a heading",
        "1. not a list",
        "- not a bullet",
        "+ not either",
        "> not a quote",
        "**not bold** _not italic_ ~~not struck~~",
        "[not](https://a.link) ![nor](https://an.image)",
        "`not code`",
        "    not a code block",
        "===",
        "&amp; &#65;",
        "<https://not.autolinked>",
        "back\\slash\\",
    ],
)
def test_escape_markdown_shows_values_literally(value: str) -> None:
    plain = one(to_plain(escape_markdown(value)))
    assert plain == value.lstrip()
    telegram = one(to_telegram(escape_markdown(value)))
    assert visible_text(telegram) == value.lstrip()
    assert "<" not in re.sub(r"&lt;", "", telegram)  # no tag at all


def test_cyrillic_is_kept_and_formatted() -> None:
    text = "Забастовка на «Металлисте» — **солидарность**"
    assert one(to_telegram(text)) == "Забастовка на «Металлисте» — <b>солидарность</b>"
    assert one(to_plain(text)) == "Забастовка на «Металлисте» — солидарность"


def test_emoji_count_double_for_telegram() -> None:
    text = "😀" * 4096
    parts = to_telegram(text)
    assert len(parts) == 2
    assert [utf16_len(part) for part in parts] == [4096, 4096]
    assert "".join(parts) == text


def test_emoji_sequences_are_not_cut_at_a_joiner() -> None:
    family = "👨\u200d👩\u200d👧"
    parts = to_telegram(family * 40, limit=64)
    assert len(parts) > 1
    telegram_ok(parts, 64)
    assert "".join(parts) == family * 40
    for part in parts:
        assert part[0] == "👨", part
        assert part[-1] == "👧", part


def test_astral_characters_never_split_and_count_for_matrix() -> None:
    text = "𝕬" * 5000
    parts = to_matrix(text, limit_bytes=2000)
    matrix_ok(parts, 2000)
    assert "".join(part.body for part in parts) == text


def test_lone_surrogate_is_replaced_not_crashed_on() -> None:
    assert one(to_telegram("bad \ud800 byte")) == "bad \ufffd byte"
    assert to_matrix("\udcff")[0].body == "\ufffd"


# -- long texts ---------------------------------------------------------------


def long_body() -> str:
    sentence = "The strike committee thanks everyone who wrote & asks for more letters. "
    paragraphs = [f"Paragraph {n}: " + sentence * 6 for n in range(50)]
    return "\n\n".join(paragraphs)


def test_twenty_thousand_characters_split_at_paragraphs() -> None:
    body = long_body()
    assert len(body) > 20_000
    parts = to_telegram(body)
    assert len(parts) >= 5
    telegram_ok(parts)
    unsplit = one(to_telegram(body, limit=10**9))
    # every cut is at a paragraph: only the blank lines between parts disappear
    assert "\n\n".join(parts) == unsplit
    assert all(part.startswith("Paragraph") for part in parts)
    # greedy: no two neighbouring parts would have fitted together
    for first, second in itertools.pairwise(parts):
        assert utf16_len(first) + 2 + utf16_len(second) > 4096


def test_long_body_for_matrix_and_plain() -> None:
    body = long_body()
    parts = to_matrix(body, limit_bytes=6000)
    assert len(parts) > 3
    matrix_ok(parts, 6000)
    plain = to_plain(body, limit=3000)
    assert all(len(part) <= 3000 for part in plain)
    assert "\n\n".join(plain) == one(to_plain(body))
    assert [part.body for part in parts] == to_matrix_bodies(body, 6000)


def to_matrix_bodies(body: str, limit: int) -> list[str]:
    return [part.body for part in to_matrix(body, limit_bytes=limit)]


def test_one_huge_word_is_cut_hard() -> None:
    word = "x" * 6000
    parts = to_telegram(word)
    assert [len(part) for part in parts] == [4096, 1904]
    assert "".join(parts) == word
    assert "".join(to_plain(word, limit=1000)) == word


def test_words_are_not_cut_when_spaces_exist() -> None:
    text = " ".join(f"word{n}" for n in range(3000))
    parts = to_telegram(text, limit=500)
    telegram_ok(parts, 500)
    words = [word for part in parts for word in part.split(" ")]
    assert words == text.split(" ")


def test_nested_emphasis_is_closed_and_reopened_across_a_split() -> None:
    text = "Before ***" + " ".join(["solidarity"] * 1000) + "*** after"
    parts = to_telegram(text, limit=1000)
    assert len(parts) > 5
    telegram_ok(parts, 1000)
    assert parts[0].startswith("Before <i><b>solidarity")
    for middle in parts[1:-1]:
        assert middle.startswith("<i><b>solidarity")
        assert middle.endswith("solidarity</b></i>")
    assert parts[-1].endswith("solidarity</b></i> after")


def test_long_code_block_becomes_several_pre_parts() -> None:
    lines = [f"print('line {n}', 1 < 2 and 3 > 2)" for n in range(400)]
    text = "Run this:\n\n```python\n" + "\n".join(lines) + "\n```\n\nThanks."
    parts = to_telegram(text, limit=2000)
    telegram_ok(parts, 2000)
    assert parts[0] == "Run this:"
    assert parts[-1].endswith("Thanks.")
    code_parts = [part for part in parts if "<pre>" in part]
    assert len(code_parts) > 3
    opening, closing = '<pre><code class="language-python">', "</code></pre>"
    kept: list[str] = []
    for part in code_parts:
        start, end = part.index(opening), part.index(closing)
        kept.extend(visible_text(part[start:end]).split("\n"))
    assert kept == lines  # cut only between lines, nothing lost


def test_long_quote_is_reopened_in_every_part() -> None:
    text = "> " + " ".join(["Solidarity forever."] * 600)
    parts = to_telegram(text, limit=800)
    telegram_ok(parts, 800)
    assert len(parts) > 5
    assert all(p.startswith("<blockquote>") and p.endswith("</blockquote>") for p in parts)
    plain = to_plain(text, limit=800)
    assert all(re.match(r"> [Sf]", part) for part in plain), plain


def test_ordered_list_numbering_continues_in_the_next_matrix_part() -> None:
    text = "\n".join(f"{n}. item number {n} " + "word " * 30 for n in range(1, 61))
    parts = to_matrix(text, limit_bytes=3000)
    matrix_ok(parts, 3000)
    assert parts[0].formatted_body.startswith("<ol><li>")
    for part in parts[1:]:
        match = re.match(r'<ol start="(\d+)"><li>item number (\d+) ', part.formatted_body)
        assert match is not None, part.formatted_body[:80]
        assert match.group(1) == match.group(2)


def test_limits_below_the_minimum_are_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        to_telegram("text", limit=5)
    with pytest.raises(ValueError, match="at least"):
        to_matrix("text", limit_bytes=50)


# -- links ----------------------------------------------------------------------


def test_link_with_quotes_and_ampersands_in_the_url() -> None:
    text = "[sign](https://example.org/p?a=1&b=\"x\"&c='y')"
    part = one(to_telegram(text))
    assert part == ("<a href=\"https://example.org/p?a=1&amp;b=%22x%22&amp;c='y'\">sign</a>")
    telegram_ok([part])
    assert one(to_plain(text)) == "sign (https://example.org/p?a=1&b=\"x\"&c='y')"
    matrix_ok(to_matrix(text))


def test_autolinks_are_shown_once_in_plain() -> None:
    text = "<https://example.org/a&b> and <help@example.org>"
    assert one(to_telegram(text)) == (
        '<a href="https://example.org/a&amp;b">https://example.org/a&amp;b</a> and '
        '<a href="mailto:help@example.org">help@example.org</a>'
    )
    assert one(to_plain(text)) == "https://example.org/a&b and help@example.org"


@pytest.mark.parametrize(
    "text",
    [
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "<javascript:alert(1)>",
        "[click](vbscript:msgbox)",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        "[click](/relative/path)",
        "[click](ftp://files.example.org)",
        "![click](javascript:alert(1))",
    ],
)
def test_unsafe_links_do_not_become_links(text: str) -> None:
    part = one(to_telegram(text))
    assert "<a" not in part
    assert "click" in part or "javascript" in part
    [matrix] = to_matrix(text)
    assert "<a" not in matrix.formatted_body


def test_allowed_schemes_become_links() -> None:
    for url in ("http://a.org", "https://a.org", "mailto:x@a.org", "tg://resolve?domain=x"):
        assert one(to_telegram(f"[go]({url})")).startswith(
            f'<a href="{url.replace("&", "&amp;")}">'
        )


def test_image_becomes_a_link_with_its_alt_text() -> None:
    assert one(to_telegram("![Picket photo](https://e.org/p.jpg)")) == (
        '<a href="https://e.org/p.jpg">Picket photo</a>'
    )
    # an image inside a link cannot be a second link
    assert one(to_telegram("[![badge](https://e.org/b.png)](https://e.org)")) == (
        '<a href="https://e.org">badge</a>'
    )


def test_code_inside_a_link_is_plain_for_telegram() -> None:
    assert one(to_telegram("[`/start`](https://e.org)")) == '<a href="https://e.org">/start</a>'


# -- mapping --------------------------------------------------------------------

DOCUMENT = """# Picket *today*

First line
second line\\
third ~~line~~ `co<de>`.

- one
- two
  1. nested

3. three
4. four

> quoted
>
> > nested quote

---

    indented code
"""


def test_telegram_mapping() -> None:
    assert one(to_telegram(DOCUMENT)) == (
        "<b>Picket <i>today</i></b>\n\n"
        "First line\nsecond line\nthird <s>line</s> <code>co&lt;de&gt;</code>.\n\n"
        "• one\n• two\n  1. nested\n\n"
        "3. three\n4. four\n\n"
        "<blockquote>quoted\n\nnested quote</blockquote>\n\n"
        "———\n\n"
        "<pre>indented code</pre>"
    )


def test_matrix_mapping() -> None:
    [part] = to_matrix(DOCUMENT)
    assert part.formatted_body == (
        "<h1>Picket <em>today</em></h1>\n"
        "<p>First line<br>second line<br>third <del>line</del> <code>co&lt;de&gt;</code>.</p>\n"
        "<ul><li>one</li>\n<li>two\n<ol><li>nested</li></ol></li></ul>\n"
        '<ol start="3"><li>three</li>\n<li>four</li></ol>\n'
        "<blockquote><p>quoted</p>\n<blockquote><p>nested quote</p></blockquote></blockquote>\n"
        "<hr>\n"
        "<pre><code>indented code</code></pre>"
    )
    assert [part.body] == to_plain(DOCUMENT)


def test_plain_mapping() -> None:
    assert one(to_plain(DOCUMENT)) == (
        "Picket today\n\n"
        "First line\nsecond line\nthird line co<de>.\n\n"
        "• one\n• two\n  1. nested\n\n"
        "3. three\n4. four\n\n"
        "> quoted\n>\n> > nested quote\n\n"
        "———\n\n"
        "indented code"
    )


def test_code_block_is_verbatim_in_plain() -> None:
    text = "```\n  def f(x):\n      return x  *  2\n```"
    assert one(to_plain(text)) == "  def f(x):\n      return x  *  2"


def test_loose_list_items_are_separated_by_blank_lines() -> None:
    assert one(to_telegram("- a\n\n- b")) == "• a\n\n• b"


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t \n"])
def test_empty_input_gives_no_parts(text: str) -> None:
    assert to_telegram(text) == []
    assert to_matrix(text) == []
    assert to_plain(text) == []


def test_absurd_nesting_keeps_the_text() -> None:
    text = "> " * 40 + "deep <b>text</b>\n\n" + "- " * 40 + "deeper"
    part = one(to_telegram(text))
    telegram_ok([part])
    assert "deep &lt;b&gt;text&lt;/b&gt;" in part
    assert part.endswith("deeper")


def test_json_size_matches_json_dumps() -> None:
    for text in ["plain", 'quote " and \\', "Кириллица", "😀", "\n\t\x01"]:
        assert json_size(text) == len(json.dumps(text)) - 2
