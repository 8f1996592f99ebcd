"""Corrections and withdrawals against the real Synapse: the readers' clients
(real matrix-nio, decrypting) see an `m.replace` edit whose `m.new_content`
has the corrected text, a notice that replies to the original, and then the
redactions; in an encrypted direct chat and in a plain room alike.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tests.conftest import write_update
from tests.matrix_client import MatrixTestUser, Received
from tests.synapse import synapse_server
from tests.test_matrix_e2e import Running, answers_after, open_direct_chat
from tests.test_matrix_e2e import bot as bot  # the fixtures
from tests.test_matrix_e2e import people as people

__all__ = ["bot", "people", "synapse_server"]

TITLE = "Write to the Uralsk court"


def publish(running: Running, body: str, extra: str = "") -> None:
    """What an organiser does: write the file elsewhere, move it in."""
    staging = running.updates.parent / "staging"
    path = write_update(
        staging,
        "court.md",
        f"""
        kind: news
        title: {TITLE}
        date: {datetime.now(UTC).date()}
        {extra}
    """,
        body,
    )
    path.rename(running.updates / "court.md")


def originals(user: MatrixTestUser, running: Running, room_id: str) -> list[Received]:
    """The update's messages as first sent (not edits, not notices)."""
    return [
        m
        for m in user.messages_from(running.user_id, room_id)
        if m.replaces is None and m.in_reply_to is None and not m.body.startswith("Welcome")
    ]


def edits_of(user: MatrixTestUser, running: Running, event_id: str) -> list[Received]:
    return [m for m in user.messages_from(running.user_id) if m.replaces == event_id]


async def test_a_correction_is_an_encrypted_replace_then_the_withdrawal_redacts(
    bot: Running, people: list[MatrixTestUser]
) -> None:
    alice, bob = people
    direct = await open_direct_chat(alice, bot)
    room = await bob.create_room(invite=[bot.user_id], encrypted=False)
    await bob.wait_for_member(room, bot.user_id)
    for user, room_id in ((alice, direct), (bob, room)):
        await answers_after(user, bot, room_id, "/start")

    publish(bot, "Write to Uralsk City Court.")
    readers = ((alice, direct), (bob, room))
    for user, room_id in readers:
        await user.wait_until(lambda u=user, r=room_id: bool(originals(u, bot, r)), "update", 30)
    first = {room_id: originals(user, bot, room_id)[0] for user, room_id in readers}
    assert first[direct].decrypted

    publish(bot, "Write to the Oral Regional Court.", 'correction: "The court was wrong."')
    for user, room_id in readers:
        original = first[room_id].event_id
        await user.wait_until(
            lambda u=user, e=original: (
                bool(edits_of(u, bot, e))
                and any(m.in_reply_to == e for m in u.messages_from(bot.user_id))
            ),
            "an edit and a notice",
            40,
        )
        (edit,) = edits_of(user, bot, original)
        assert edit.new_body is not None and "Oral Regional Court" in edit.new_body
        assert "The court was wrong." in edit.new_body
        assert edit.body.startswith("* ")  # the fallback for clients without edits
        assert edit.decrypted == (room_id == direct)

    publish(bot, "Write to the Oral Regional Court.", 'withdrawn: "Published by mistake"')
    for user, room_id in readers:
        notice = next(
            m
            for m in user.messages_from(bot.user_id, room_id)
            if m.in_reply_to == first[room_id].event_id
        )
        wanted = {first[room_id].event_id, notice.event_id}
        await user.wait_until(
            lambda u=user, w=wanted, r=room_id: w <= {e for rr, e, _ in u.redactions if rr == r},
            "both messages redacted",
            40,
        )
        reasons = {reason for rr, e, reason in user.redactions if e in wanted}
        assert reasons == {"Published by mistake"}


async def test_a_matrix_update_grows_to_three_parts_and_shrinks_back(
    bot: Running, people: list[MatrixTestUser]
) -> None:
    bob = people[1]
    # Three Matrix parts (about 32 KB each) are eleven Telegram messages:
    # over the default broadcast.max_parts, so this bot allows more.
    await bot.stop()
    broadcast = bot.config.broadcast.model_copy(update={"max_parts": 40})
    bot.config = bot.config.model_copy(update={"broadcast": broadcast})
    await bot.start()
    room = await bob.create_room(invite=[bot.user_id], encrypted=False)
    await bob.wait_for_member(room, bot.user_id)
    await answers_after(bob, bot, room, "/start")
    publish(bot, "A short update.")
    await bob.wait_until(lambda: bool(originals(bob, bot, room)), "update", 30)
    (first,) = originals(bob, bot, room)

    letters = "the committee asks for letters. " * 40
    long_body = "\n\n".join(f"Hearing {n}: {letters}" for n in range(32))  # three parts
    publish(bot, long_body)
    await bob.wait_until(lambda: len(originals(bob, bot, room)) >= 3, "two new parts", 40)
    await bob.wait_until(lambda: bool(edits_of(bob, bot, first.event_id)), "an edit", 40)
    parts = originals(bob, bot, room)
    assert len(parts) == 3, [p.body[:20] for p in parts]
    edit = edits_of(bob, bot, first.event_id)[-1]
    assert edit.new_body is not None and "Hearing 0" in edit.new_body
    assert "Hearing 31" in parts[2].body

    publish(bot, "Short again.")
    surplus = {parts[1].event_id, parts[2].event_id}
    await bob.wait_until(
        lambda: surplus <= {e for r, e, _ in bob.redactions if r == room}, "surplus redacted", 40
    )
    await bob.wait_until(
        lambda: any(
            m.new_body and "Short again." in m.new_body for m in edits_of(bob, bot, first.event_id)
        ),
        "the first part edited",
        40,
    )
