"""An update's `media:` entries, resolved into stripped files.

Each entry's path is relative to the update file and must stay inside
`updates/` (a `../` or a link that leads out is refused, as for update
files). The file itself is checked and stripped by bot/media/files.py; its
findings come back here as problems at the entry's line. An update with a
refused file is not published at all: a picket call without its map, or a
leaflet announced but missing, would mislead.

The item's digest takes in each stripped file's digest, so a changed picture
(or a changed alt, which is in the update's own bytes) is a changed update,
and docs/corrections.md's edits follow.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.content.items import Item, MediaRef, Translation
from bot.media.files import MAX_ENTRIES, MediaFiles
from bot.media.types import Media
from bot.problems import Problem


def attach_media(
    item: Item, real_path: Path, root: Path, files: MediaFiles
) -> tuple[Item | None, list[Problem]]:
    """`item` with its media, and every problem and warning about them; the
    item is None when one of the files is refused."""
    refs = item.media_refs
    if not refs:
        return item, []
    if len(refs) > MAX_ENTRIES:
        line = item.key_lines.get("media", 1)
        return None, [
            Problem(
                item.path,
                line,
                f"media: {len(refs)} files; an update may carry at most {MAX_ENTRIES} "
                "(split it into two updates)",
            )
        ]
    problems: list[Problem] = []
    media: list[Media] = []
    for index, ref in enumerate(refs):
        found = _one(item.path, index, ref, real_path, root, files, problems)
        if found is not None:
            media.append(found)
    if any(not p.warning for p in problems):
        return None, problems
    digest = item.digest + "".join(m.digest[:16] for m in media)
    return replace(item, media=tuple(media), digest=digest), problems


def _one(
    shown: Path,
    index: int,
    ref: MediaRef,
    real_path: Path,
    root: Path,
    files: MediaFiles,
    problems: list[Problem],
) -> Media | None:
    name = ref.file or ""
    where = f"media[{index}]: {name}"
    try:
        resolved = (real_path.parent / name).resolve()
    except (OSError, RuntimeError, ValueError):  # a link loop, a name too long
        problems.append(Problem(shown, ref.line, f"{where} cannot be read (check the path)"))
        return None
    if not resolved.is_relative_to(root.resolve()):
        problems.append(
            Problem(
                shown,
                ref.line,
                f"{where} leads out of {root.name}/ "
                "(copy the file into the folder, beside the update)",
            )
        )
        return None
    prepared = files.prepare(resolved, ref.alt or "")
    problems.extend(
        Problem(shown, ref.line, f"{where} {f.message}", warning=f.warning)
        for f in prepared.findings
    )
    media = prepared.media
    if media is not None and media.mime.startswith("image/") and not ref.alt:
        problems.append(
            Problem(
                shown,
                ref.line,
                f"{where} has no alt (describe the picture for people who cannot see it: "
                f"- {{file: {name}, alt: what it shows}})",
                warning=True,
            )
        )
    return media


def translation_media_problem(path: Path, tr: Translation, base: Item) -> Problem | None:
    """Why a translation's `media:` does not fit its base file's, or None. It
    may stop early: the entries it leaves out keep the base file's alt."""
    if tr.media is None:
        return None
    line = tr.media[0].line if tr.media else 1
    if len(tr.media) > len(base.media_refs):
        return Problem(
            path,
            line,
            f"media: {len(tr.media)} entries, but {base.path} has {len(base.media_refs)} files "
            "(a translation gives the alt of the base file's entries, in order)",
        )
    for index, (mine, theirs) in enumerate(zip(tr.media, base.media_refs, strict=False)):
        if mine.file is not None and mine.file != theirs.file:
            return Problem(
                path,
                mine.line,
                f"media[{index}]: {mine.file}: a translation may not change the files "
                f"(write {theirs.file}, or only the alt)",
            )
    return None
