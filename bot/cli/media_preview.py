"""`strikewire preview`'s part about an update's files: each with its
stripped size, and what Telegram, Matrix and the console send for them."""

from __future__ import annotations

from bot.media.plan import console_lines, describe, telegram_plan
from bot.media.types import Media, MediaKind
from bot.render import to_plain


def media_preview(media: tuple[Media, ...], markdown: str) -> str:
    text_chars = len("\n".join(to_plain(markdown)))
    lines = [f"── media: {len(media)} file(s), metadata stripped ──"]
    lines += [describe(m) for m in media]
    lines.append("── telegram sends ──")
    lines += [f"{n}. {call}" for n, call in enumerate(telegram_plan(media, text_chars), 1)]
    lines.append("── matrix sends (each file uploaded once per kind of room) ──")
    lines += [f"{n}. {_matrix_event(m)}" for n, m in enumerate(media, 1)]
    lines.append(f"{len(media) + 1}. the text")
    lines.append("── console shows ──")
    lines += console_lines(media)
    return "\n".join(lines)


def _matrix_event(media: Media) -> str:
    if media.kind is MediaKind.PHOTO:
        return f"m.image {media.alt or '(no alt)'}"
    return f"m.file {media.name}"
