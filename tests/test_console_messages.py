"""The console adapter: an organiser types a multi-line /post or /edit in the
terminal and the core gets it whole, as the admin "console"."""

from __future__ import annotations

import asyncio
import io

from bot.adapters.base import ChatKind, Incoming, Outgoing
from bot.adapters.console import ConsoleAdapter


async def typed(script: str) -> tuple[list[Incoming], str]:
    """Run the console on `script` as standard input; what the core got and what was printed."""
    got: list[Incoming] = []
    out = io.StringIO()

    async def on_command(incoming: Incoming) -> list[Outgoing]:
        got.append(incoming)
        return [Outgoing(f"got {len(incoming.text.splitlines())} line(s)")]

    async def on_chat_gone(platform: str, chat_id: str) -> None:
        raise AssertionError("the console chat never goes")

    adapter = ConsoleAdapter(io.StringIO(script), out)
    await adapter.start(on_command, on_chat_gone)
    await asyncio.wait_for(adapter.finished.wait(), 10)
    await adapter.stop()
    return got, out.getvalue()


async def test_a_bare_post_line_collects_the_message_until_a_lone_dot() -> None:
    script = (
        "/start\n"
        "/post\n"
        "---\n"
        "kind: news\n"
        "title: Strike day\n"
        "---\n"
        "We **walk out** at six.\n"
        "\n"
        "  - bring a flag\n"
        ".\n"
        "/pickets\n"
    )
    got, printed = await typed(script)
    assert [m.text.splitlines()[0] for m in got] == ["/start", "/post", "/pickets"]
    post = got[1]
    assert (
        post.text
        == post.markdown
        == (
            "/post\n---\nkind: news\ntitle: Strike day\n---\n"
            "We **walk out** at six.\n\n  - bring a flag"
        )
    )
    assert (post.sender, post.is_bot_admin, post.chat_kind) == ("console", True, ChatKind.PRIVATE)
    assert "got 8 line(s)" in printed


async def test_edit_with_an_id_collects_and_a_one_line_post_stands_alone() -> None:
    got, _ = await typed("/post Strike day at Metallist\n/edit strike-day\nNew *text*\n.\n")
    assert [m.text for m in got] == [
        "/post Strike day at Metallist",
        "/edit strike-day\nNew *text*",
    ]
    assert got[0].markdown == "/post Strike day at Metallist"


async def test_input_ending_inside_a_message_still_delivers_it() -> None:
    got, _ = await typed("/post\nTitle\nBody line\n")
    assert [m.text for m in got] == ["/post\nTitle\nBody line"]
