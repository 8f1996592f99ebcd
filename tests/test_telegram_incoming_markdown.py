"""What an organiser formats in the Telegram app is what supporters get: the
message text and entities become Markdown that the bot's renderer turns back
into the same formatting, with typed punctuation shown as typed and every line
where it was."""

from __future__ import annotations

import pytest
from telegram import MessageEntity

from bot.adapters.telegram_incoming import message_markdown, normalise_command
from bot.adapters.telegram_markdown import to_markdown
from bot.render import to_plain, to_telegram


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def entity(text: str, part: str, kind: str, *, after: int = 0, **extra: str) -> MessageEntity:
    """An entity over the first `part` in `text` at or after Python index `after`,
    with offsets in UTF-16 code units as Telegram sends them."""
    start = text.index(part, after)
    return MessageEntity(kind, utf16(text[:start]), utf16(part), **extra)  # type: ignore[arg-type]


def html(text: str, *entities: MessageEntity) -> str:
    [part] = to_telegram(to_markdown(text, entities))
    return part


def test_bold_italic_link_and_code_become_markdown() -> None:
    text = "Strike at Metallist today, see the site and run make"
    md = to_markdown(
        text,
        [
            entity(text, "Strike", MessageEntity.BOLD),
            entity(text, "today", MessageEntity.ITALIC),
            entity(text, "the site", MessageEntity.TEXT_LINK, url="https://x.org/a"),
            entity(text, "make", MessageEntity.CODE),
        ],
    )
    assert md == "**Strike** at Metallist *today*, see [the site](https://x.org/a) and run `make`"
    assert to_telegram(md) == [
        '<b>Strike</b> at Metallist <i>today</i>, see <a href="https://x.org/a">the site</a>'
        " and run <code>make</code>"
    ]


def test_an_emoji_before_an_entity_does_not_shift_it() -> None:
    text = "✊🏽 Strike 🔥 now"  # the raised fist with skin tone and the fire are 2 units each
    md = to_markdown(text, [entity(text, "now", MessageEntity.BOLD)])
    assert md == "✊🏽 Strike 🔥 **now**"


def test_entities_nest_bold_inside_a_link_and_italic_inside_bold() -> None:
    text = "Read the full appeal here"
    link = entity(text, "the full appeal", MessageEntity.TEXT_LINK, url="https://x.org")
    bold = entity(text, "full appeal", MessageEntity.BOLD)
    italic = entity(text, "appeal", MessageEntity.ITALIC)
    assert html(text, italic, link, bold) == (
        'Read <a href="https://x.org">the <b>full <i>appeal</i></b></a> here'
    )


def test_bold_next_to_italic_stays_apart() -> None:
    text = "loud quiet"
    md = to_markdown(
        text,
        [entity(text, "loud", MessageEntity.BOLD), entity(text, " quiet", MessageEntity.ITALIC)],
    )
    assert to_telegram(md) == ["<b>loud</b> <i>quiet</i>"]


def test_markdown_typed_as_text_stays_literal() -> None:
    text = "5 * 3 = 15, not_a_word, [x](y), `tick`, <b>, &amp; ~~no~~ \\ yes!"
    md = to_markdown(text)
    assert to_plain(md) == [text]
    assert to_telegram(md) == [
        "5 * 3 = 15, not_a_word, [x](y), `tick`, &lt;b&gt;, &amp;amp; ~~no~~ \\ yes!"
    ]


@pytest.mark.parametrize(
    "line",
    ["# not a heading", "> not a quote", "- not a list", "+ nor this", "1. nor this", "2) nor"],
)
def test_a_line_that_looks_like_markdown_blocks_is_a_plain_line(line: str) -> None:
    text = f"First line\n{line}\n---\n==="
    assert to_plain(to_markdown(text)) == [text]


def test_every_line_stays_where_it_was() -> None:
    text = "/post Title\nline two *\n\n  indented four\n\n\nlast"
    md = to_markdown(text, [entity(text, "line two", MessageEntity.BOLD)])
    assert md.split("\n") == [
        "/post Title",
        "**line two** \\*",
        "",
        "indented four",  # leading blanks would start a code block
        "",
        "",
        "last",
    ]


def test_bold_across_lines_and_with_blanks_at_its_edges() -> None:
    text = "a bold\n\nstretch here"
    bold = entity(text, " bold\n\nstretch ", MessageEntity.BOLD)
    md = to_markdown(text, [bold])
    assert md == "a **bold**\n\n**stretch** here"
    assert to_telegram(md) == ["a <b>bold</b>\n\n<b>stretch</b> here"]


def test_a_url_entity_stays_text_and_a_mention_is_not_a_link() -> None:
    text = "See https://x.org/a_b_c?q=1&r=2 by Anna @strike_news"
    md = to_markdown(
        text,
        [
            entity(text, "https://x.org/a_b_c?q=1&r=2", MessageEntity.URL),
            entity(text, "Anna", MessageEntity.TEXT_MENTION),
            entity(text, "@strike_news", MessageEntity.MENTION),
        ],
    )
    assert md == "See https://x.org/a\\_b\\_c?q=1&r=2 by Anna @strike\\_news"
    assert to_plain(md) == [text]


def test_underline_and_spoiler_are_plain_strikethrough_is_kept() -> None:
    text = "under hidden gone"
    md = to_markdown(
        text,
        [
            entity(text, "under", MessageEntity.UNDERLINE),
            entity(text, "hidden", MessageEntity.SPOILER),
            entity(text, "gone", MessageEntity.STRIKETHROUGH),
        ],
    )
    assert md == "under hidden ~~gone~~"


def test_code_with_backticks_and_a_code_block_with_its_language() -> None:
    text = "Run a`b then:\nprint('*x*')\nif a:\n    go()\ndone"
    md = to_markdown(
        text,
        [
            entity(text, "a`b", MessageEntity.CODE),
            entity(text, "print('*x*')\nif a:\n    go()", MessageEntity.PRE, language="python"),
        ],
    )
    assert md == "Run ``a`b`` then:\n```python\nprint('*x*')\nif a:\n    go()\n```\ndone"
    assert to_plain(md)[0].startswith("Run a`b then:")


def test_a_link_exclamation_and_url_brackets_do_not_make_an_image() -> None:
    text = "Wow!this"
    md = to_markdown(
        text, [entity(text, "this", MessageEntity.TEXT_LINK, url="https://x.org/a_(b)")]
    )
    assert md == "Wow\\![this](https://x.org/a_\\(b\\))"
    assert to_telegram(md) == ['Wow!<a href="https://x.org/a_(b)">this</a>']


def test_front_matter_under_the_command_is_copied_as_typed() -> None:
    text = "/post\n---\nkind: news\ntitle: Strike *day*\ntags: [a, b]\n---\n1. Body *here*"
    md = to_markdown(text, [entity(text, "here", MessageEntity.BOLD)])
    assert md == (
        "/post\n---\nkind: news\ntitle: Strike *day*\ntags: [a, b]\n---\n1\\. Body \\***here**\\*"
    )
    assert to_telegram(md.split("---\n")[-1]) == ["1. Body *<b>here</b>*"]


def test_an_entity_overlapping_its_parent_is_cut_at_the_parent_end() -> None:
    text = "one two three"
    md = to_markdown(
        text,
        [
            MessageEntity(MessageEntity.TEXT_LINK, 0, 7, url="https://x.org"),
            MessageEntity(MessageEntity.BOLD, 4, 9),
        ],
    )
    assert to_telegram(md) == ['<a href="https://x.org">one <b>two</b></a> three']


def test_a_multi_line_command_to_this_bot_keeps_its_lines_in_text_and_markdown() -> None:
    raw = "/post@Strikewire_Bot   Strike day\nWe walk out"
    text = normalise_command(raw, "strikewire_bot")
    assert text == "/post Strike day\nWe walk out"
    bold = entity(raw, "walk", MessageEntity.BOLD)
    assert message_markdown(raw, [bold], text) == "/post   Strike day\nWe **walk** out"
    assert normalise_command("/post@strikewire_bot\nTitle", "strikewire_bot") == "/post\nTitle"
    assert normalise_command("/post@other_bot\nTitle", "strikewire_bot") is None


def test_bold_punctuation_next_to_a_letter_leaves_the_punctuation_plain() -> None:
    text = 'say "now"please'
    # `**"now"**please` would show its asterisks: the closing run cannot close.
    assert html(text, entity(text, '"now"', MessageEntity.BOLD)) == 'say <b>"now</b>"please'


def test_text_split_by_an_underline_is_escaped_as_one_piece() -> None:
    text = "AT&amp; and\n1. x"
    md = to_markdown(
        text,
        [entity(text, "amp", MessageEntity.UNDERLINE), entity(text, ". x", MessageEntity.SPOILER)],
    )
    assert to_plain(md) == [text]


def test_code_over_two_lines_is_a_span_on_each() -> None:
    text = "run a\n+ b now"
    md = to_markdown(text, [entity(text, "a\n+ b", MessageEntity.CODE)])
    assert md == "run `a`\n`+ b` now"
    assert to_telegram(md) == ["run <code>a</code>\n<code>+ b</code> now"]


def test_a_bold_link_glued_to_a_word_keeps_the_link_and_drops_the_bold() -> None:
    text = "readhere"
    md = to_markdown(
        text,
        [
            entity(text, "here", MessageEntity.BOLD),
            entity(text, "here", MessageEntity.TEXT_LINK, url="https://x.org"),
        ],
    )
    assert to_telegram(md) == ['read<a href="https://x.org">here</a>']


@pytest.mark.parametrize(
    ("text", "spans", "shown"),
    [
        # Italic "abcd", bold "ef", italic "f": the markers meet as `***` and
        # `*a***`, which CommonMark pairs otherwise; the inner italic goes.
        ("abcdef", [("italic", 0, 4), ("bold", 4, 2), ("italic", 5, 1)], "<i>abcd</i><b>ef</b>"),
        # Bold "fgh" with italics at both its edges: one of them goes.
        (
            "abcdefgh",
            [("bold", 5, 3), ("italic", 5, 1), ("italic", 7, 1)],
            "abcde<b>fg<i>h</i></b>",
        ),
    ],
)
def test_emphasis_whose_asterisks_would_merge_gives_up_only_what_cannot_show(
    text: str, spans: list[tuple[str, int, int]], shown: str
) -> None:
    entities = [MessageEntity(kind, offset, length) for kind, offset, length in spans]
    assert to_telegram(to_markdown(text, entities)) == [shown]
