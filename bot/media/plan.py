"""What each platform sends for an update's files, in words: what `strikewire
preview` prints, following docs/media.md's contract.

Telegram (bot/adapters/telegram_media.py follows this plan): one photo is
`sendPhoto` with the text as its caption when the text fits 1024
characters, else the photo then the text as a reply to it; 2 to 10 photos
are one `sendMediaGroup` (an album) then the text; a PDF (or a photo too big
to be one) is `sendDocument` with the same caption rule. Matrix sends one
`m.image` / `m.file` event per file, then the text
(bot/adapters/matrix_media.py); the console writes one `[image: alt]` /
`[document: name]` line per file, as Matrix does for a file over the
homeserver's upload limit.
"""

from __future__ import annotations

from bot.media.lines import fallback_line
from bot.media.types import Media, MediaKind

CAPTION_LIMIT = 1024


def size_text(size: int) -> str:
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def describe(media: Media) -> str:
    """`gate.jpg: photo, 1200x800, 240 KB stripped, alt "…"`."""
    parts = [str(media.kind)]
    if media.width is not None:
        parts.append(f"{media.width}x{media.height}")
    parts.append(f"{size_text(media.size)} stripped")
    if media.mime.startswith("image/"):
        parts.append(f'alt "{media.alt}"' if media.alt else "no alt")
    return f"{media.name}: {', '.join(parts)}"


def telegram_plan(media: tuple[Media, ...], text_chars: int) -> list[str]:
    """The Bot API calls, in order, for these files and a text of `text_chars`."""
    photos = [m for m in media if m.kind is MediaKind.PHOTO]
    documents = [m for m in media if m.kind is MediaKind.DOCUMENT]
    calls: list[str] = []
    if len(photos) == 1:
        calls.append(f"sendPhoto {photos[0].name}")
    elif photos:
        calls.append(f"sendMediaGroup: an album of {len(photos)} photos")
    calls += [f"sendDocument {m.name}" for m in documents]
    if not calls:
        return ["sendMessage: the text"]
    single = len(media) == 1
    if single and text_chars <= CAPTION_LIMIT:
        calls[0] += f", the text as its caption ({text_chars} characters)"
    else:
        why = "" if not single else f" (over {CAPTION_LIMIT} characters for a caption)"
        calls.append(f"sendMessage: the text, as a reply to the first{why}")
    calls.append("each file uploaded once; every later chat gets its file_id")
    return calls


def console_lines(media: tuple[Media, ...]) -> list[str]:
    """The lines the console shows above the text."""
    return [fallback_line(m) for m in media]
