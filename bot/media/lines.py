"""The one-line stand-in for a media file where it is not sent as a file:
`[image: alt]` / `[document: name]`.

The console prints these; the Matrix adapter writes them above the text
until Matrix uploads are built (docs/media.md: not done yet), so a Matrix
reader at least learns there is a picture or a leaflet. `preview` shows them.
"""

from __future__ import annotations

from bot.markdown_escape import escape_markdown
from bot.media.types import Media


def fallback_line(media: Media) -> str:
    """`[image: alt]` for a picture (`[image]` when it has no alt: a phone's
    file name, IMG_20270306_120501.jpg, says when it was taken), and
    `[document: name]` for a PDF or a photo sent as a document."""
    if media.mime.startswith("image/"):
        alt = " ".join(media.alt.split())
        return f"[image: {alt}]" if alt else "[image]"
    return f"[document: {media.name}]"


def fallback_markdown(media: tuple[Media, ...], markdown: str) -> str:
    """`markdown` with one escaped stand-in line per file above it."""
    if not media:
        return markdown
    lines = "\n".join(escape_markdown(fallback_line(m)) for m in media)
    return f"{lines}\n\n{markdown}"
