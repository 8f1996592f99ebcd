"""`/post` refuses control characters at the admin's line and column (and a
self-referring YAML anchor with one line), and no file the bot writes ever
carries NUL, ESC or BEL."""

from __future__ import annotations

from pathlib import Path

from bot.adapters.base import Document
from tests.test_publishing import admin, files_in, started


async def test_post_refuses_control_characters_where_the_admin_typed_them(
    tmp_path: Path,
) -> None:
    app, tg = await started(tmp_path)
    try:
        before = files_in(tmp_path)
        [escape] = await admin(tg, "/post Strike\nRed \x1b[31malarm\x1b[0m\nand a bell\x07.\n")
        assert escape.startswith("Not published: the draft has problems.")
        assert "line 2: column 5: the control character U+001B (escape) is not allowed" in escape
        assert "line 3: column 11: the control character U+0007 (bell)" in escape

        [title] = await admin(tg, "/post\nRing\x00 ring\nThe body.\n")
        assert "line 2: column 5: the control character U+0000 (nul)" in title

        pasted = b"---\nkind: news\ntitle: Pasted\ndate: 2026-12-01\n---\nPage 1\x0cPage 2\n"
        [document] = await admin(tg, "/post", document=Document("pasted.md", len(pasted), pasted))
        assert "pasted.md, line 6: column 7: the control character U+000C (form feed)" in (document)

        escaped = '/post\n---\nkind: news\ntitle: "Ring \\a"\ndate: 2026-12-01\n---\nBody.\n'
        [yaml_escape] = await admin(tg, escaped)
        assert "line 4: title: the control character U+0007 (bell) is not allowed" in yaml_escape

        looped = "/post\n---\nkind: news\ntitle: T\ndate: 2026-12-01\nx: &a [*a]\n---\nBody.\n"
        [anchor] = await admin(tg, looped)
        assert "line 6: the YAML anchor &a is not allowed (write the value out in full" in anchor

        [nothing] = await admin(tg, "/publish")
        assert "draft" in nothing.lower()
        assert files_in(tmp_path) == before
    finally:
        await app.stop()


async def test_a_withdrawal_reason_is_written_without_control_characters(
    tmp_path: Path,
) -> None:
    app, tg = await started(tmp_path)
    try:
        await admin(tg, "/post Strike day\nThe workers voted.\n")
        [published] = await admin(tg, "/publish")
        item_id = published.split(" as ", 1)[1].split(":", 1)[0]
        await admin(tg, f"/withdraw {item_id} Posted\x1b[2J by\x07 mistake")
        await admin(tg, "/publish")
        text = (app.config.updates_path / f"{item_id}.md").read_bytes()
        assert b"withdrawn: Posted[2J by mistake" in text
        assert not any(c in text for c in (b"\x00", b"\x07", b"\x1b"))
    finally:
        await app.stop()
