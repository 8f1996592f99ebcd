"""Properties of the Telegram-to-Markdown conversion for any text and any
entities Telegram could send: supporters see exactly the characters the
organiser typed, and every line stays where it was."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import MessageEntity

from bot.adapters.telegram_markdown import to_markdown
from bot.render import to_telegram, utf16_len
from bot.render.validate import visible_text

PIECES = [
    "a", "b1", " ", "\n", "\n\n", "*", "**", "_", "~~", "`", "``", "```", "[", "]", "(", ")",
    "<", ">", "&", "&amp;", "&#35;", "\\", "!", "#", "# ", "- ", "+ ", "1. ", "2) ", "=", "---",
    "    ", "😀", "Жё", "é", "https://x.org/a_b", ".", ";",
]  # fmt: skip
KINDS = [
    MessageEntity.BOLD,
    MessageEntity.ITALIC,
    MessageEntity.STRIKETHROUGH,
    MessageEntity.UNDERLINE,
    MessageEntity.SPOILER,
    MessageEntity.TEXT_LINK,
    MessageEntity.CODE,
    MessageEntity.URL,
]
# Formatting that can sit inside other formatting (the Bot API's rule).
NESTABLE = {
    MessageEntity.BOLD,
    MessageEntity.ITALIC,
    MessageEntity.STRIKETHROUGH,
    MessageEntity.UNDERLINE,
    MessageEntity.SPOILER,
}


def squeeze(text: str) -> str:
    return "".join(text.split())


def may_hold(outer: MessageEntity, inner: MessageEntity) -> bool:
    """The Bot API's rule: formatting nests in anything but code (and pre),
    and anything holds formatting; nothing holds its own type."""
    if outer.type == inner.type or outer.type == MessageEntity.CODE:
        return False
    return inner.type in NESTABLE or outer.type in NESTABLE


def telegram_could_send(entities: list[MessageEntity]) -> list[MessageEntity]:
    """Keep the entities Telegram could send together: nested, never crossing."""
    kept: list[MessageEntity] = []
    for entity in sorted(entities, key=lambda e: (e.offset, -e.length)):
        start, end = entity.offset, entity.offset + entity.length
        around = [k for k in kept if start < k.offset + k.length and k.offset < end]
        if all(
            k.offset <= start and end <= k.offset + k.length and may_hold(k, entity) for k in around
        ):
            kept.append(entity)
    return kept


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, list[MessageEntity]]:
    text = "".join(draw(st.lists(st.sampled_from(PIECES), min_size=1, max_size=25)))
    units = utf16_len(text)
    entities = []
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, units - 1))
        length = draw(st.integers(1, units - start))
        kind = draw(st.sampled_from(KINDS))
        url = "https://x.org" if kind == MessageEntity.TEXT_LINK else None
        entities.append(MessageEntity(kind, start, length, url=url))
    return text, telegram_could_send(entities)


@settings(max_examples=400, deadline=None)
@given(messages())
def test_the_characters_typed_are_the_characters_shown_on_the_same_lines(
    message: tuple[str, list[MessageEntity]],
) -> None:
    text, entities = message
    markdown = to_markdown(text, entities)
    assert markdown.count("\n") == text.count("\n")
    shown = "".join(visible_text(part) for part in to_telegram(markdown)) if squeeze(text) else ""
    assert squeeze(shown) == squeeze(text), markdown
