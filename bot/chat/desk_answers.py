"""What the bot answers organisers who publish from the chat (/post, /publish, …).

Apart from bot/chat/answers.py (everyone's answers) so the publishing texts
can be read and translated together. Problems found in a draft are the same
sentences `strikewire check` prints, in English, after a translated lead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.chat.answers import bold
from bot.content.items import Item
from bot.i18n import Texts
from bot.render import escape_markdown as esc
from bot.store import Draft, DraftAction


def code(text: str) -> str:
    return f"`{text.replace('`', '')}`"


def usage_post(t: Texts) -> str:
    return t.md(
        "Send /post followed by the update in the same message: the first line is the "
        "title, the rest the text. A whole update file (starting with ---) or a Markdown "
        "file sent with /post as caption works too."
    )


def usage_edit(t: Texts) -> str:
    return t.md(
        "Send /edit ID followed by the new text (title line, then the text), or a whole "
        "update file. /items lists the ids."
    )


def usage_id(t: Texts, command: str) -> str:
    return t.md("Send /{command} ID. /items lists the ids.", command=command)


def problems(t: Texts, lines: Sequence[str]) -> str:
    return (
        bold(t.md("Not published: the draft has problems."))
        + "\n\n"
        + "\n".join(f"- {esc(line)}" for line in lines)
    )


def at_line(t: Texts, source: str, line: int | None, message: str) -> str:
    if line is None:
        return message
    if source == "message":
        return t._("line {line}: {problem}").format(line=line, problem=message)
    return t._("{file}, line {line}: {problem}").format(file=source, line=line, problem=message)


def document_refused(t: Texts, filename: str, why: str, size: int) -> str:
    if why == "too big":
        megabytes = f"{size / 1024 / 1024:.1f}"
        return t.md(
            "{file} is {size} MB; an update file may be at most 1 MB. "
            "Split it into several updates.",
            file=filename[:64],
            size=megabytes,
        )
    if why == "not fetched":
        return t.md("{file} could not be fetched. Send it again.", file=filename[:64])
    return t.md("{file} is not UTF-8 text. Save it as UTF-8 and send it again.", file=filename[:64])


def id_taken(t: Texts, item_id: str) -> str:
    return t.md(
        "The id {id} is already used by another update. /edit {id} changes that update; "
        "or give this one another id.",
        id=item_id,
    )


def id_changed(t: Texts, item_id: str, given: str) -> str:
    return t.md(
        "This text says id: {given}, but you are editing {id}. Keep the id as it is.",
        id=item_id,
        given=given,
    )


def no_such_item(t: Texts, item_id: str) -> str:
    return t.md("There is no update {id}. /items lists the ids.", id=item_id[:64])


def already_withdrawn(t: Texts, item_id: str) -> str:
    return t.md("{id} is already withdrawn.", id=item_id)


def audience(t: Texts, chats: int, languages: Sequence[str]) -> str:
    return t.nmd(
        "Goes to {count} chat now; languages: {languages}.",
        "Goes to {count} chats now; languages: {languages}.",
        chats,
        languages=", ".join(languages) or "-",
    )


def scheduled(t: Texts, when: datetime) -> str:
    return t.md("It is published at {moment}.", moment=t.moment(when))


def too_old(t: Texts, days: int) -> str:
    return t.nmd(
        "Its date is more than {count} day ago: it will be listed, not broadcast.",
        "Its date is more than {count} days ago: it will be listed, not broadcast.",
        days,
    )


def draft_footer(t: Texts, draft_id: str, expires: datetime) -> str:
    return t.md(
        "Draft {draft}. /publish to send it, /cancel to drop it. It expires at {moment}.",
        draft=draft_id,
        moment=t.moment(expires),
    )


def edit_effect(t: Texts, edits: int, notices: int, sent: int) -> str:
    if not sent:
        return t.md("Not sent to anyone yet: chats that get it later get the new text.")
    if not edits:
        return t.nmd(
            "Changes nothing that the {count} chat that has it sees.",
            "Changes nothing that the {count} chats that have it see.",
            sent,
        )
    if notices:
        return t.nmd(
            "Edits its message in {count} chat and sends a notice under it.",
            "Edits its message in {count} chats and sends a notice under each.",
            edits,
        )
    return t.nmd("Edits its message in {count} chat.", "Edits its message in {count} chats.", edits)


def withdraw_preview(t: Texts, item: Item, sent: int) -> str:
    return (
        bold(t.md("Withdraw {id}?", id=item.id))
        + " "
        + esc(item.title)
        + "\n\n"
        + t.nmd(
            "Takes back the messages sent to {count} chat and stops what is still queued.",
            "Takes back the messages sent to {count} chats and stops what is still queued.",
            sent,
        )
    )


def withdraw_footer(t: Texts, draft_id: str) -> str:
    return t.md(
        "Draft {draft}. /publish to withdraw it, /cancel to keep it.",
        draft=draft_id,
    )


def no_draft(t: Texts) -> str:
    return t.md("You have no open draft. /post writes one; /drafts lists all.")


def unknown_draft(t: Texts, draft_id: str) -> str:
    return t.md(
        "There is no open draft {draft} (it may have expired). /drafts lists them.",
        draft=draft_id[:32],
    )


def not_yours(t: Texts, draft_id: str) -> str:
    return t.md(
        "Draft {draft} is another admin's: only they can /publish it. "
        "/approve {draft} approves it.",
        draft=draft_id,
    )


def waiting(t: Texts, draft_id: str, missing: int) -> str:
    return t.nmd(
        "Draft {draft} waits for {count} more admin to send /approve {draft}.",
        "Draft {draft} waits for {count} more admins to send /approve {draft}.",
        missing,
        draft=draft_id,
    )


def approval_wanted(t: Texts, draft: Draft) -> str:
    return t.md(
        "An admin wants to publish draft {draft} ({what}): {title}. "
        "/drafts {draft} shows it; /approve {draft} publishes it; /cancel {draft} drops it.",
        draft=draft.id,
        what=action_name(t, draft.action),
        title=draft.title,
    )


def approved_elsewhere(t: Texts, draft: Draft, outcome: str) -> str:
    return t.md("Draft {draft} was approved by another admin.", draft=draft.id) + " " + outcome


def own_approval(t: Texts, draft_id: str) -> str:
    return t.md(
        "Your approval of draft {draft} is counted already; another admin must approve it.",
        draft=draft_id,
    )


def not_published_yet(t: Texts, draft_id: str) -> str:
    return t.md(
        "Approved. Draft {draft} takes effect once the admin who wrote it sends /publish.",
        draft=draft_id,
    )


def cancelled(t: Texts, draft_id: str) -> str:
    return t.md("Draft {draft} dropped.", draft=draft_id)


def gone_meanwhile(t: Texts, draft_id: str) -> str:
    return t.md("Draft {draft} was already published or dropped.", draft=draft_id)


def changed_meanwhile(t: Texts, item_id: str) -> str:
    return t.md(
        "{id} was changed since this draft was written; nothing was written. "
        "Send /edit {id} again.",
        id=item_id,
    )


def published(t: Texts, item_id: str, queued: int) -> str:
    return t.nmd(
        "Published as {id}: {count} chat queued.",
        "Published as {id}: {count} chats queued.",
        queued,
        id=item_id,
    )


def published_later(t: Texts, item_id: str, when: datetime) -> str:
    return t.md("Saved as {id}; it goes out at {moment}.", id=item_id, moment=t.moment(when))


def published_not_broadcast(t: Texts, item_id: str) -> str:
    return t.md("Saved as {id}. Its date is too old to broadcast; it is listed.", id=item_id)


def corrected(t: Texts, item_id: str, effect: str) -> str:
    return t.md("Correction of {id} published.", id=item_id) + " " + effect


def withdrawn(t: Texts, item_id: str, sent: int) -> str:
    return t.nmd(
        "{id} withdrawn: taking back its messages from {count} chat.",
        "{id} withdrawn: taking back its messages from {count} chats.",
        sent,
        id=item_id,
    )


def write_failed(t: Texts, reason: str) -> str:
    return t.md("Nothing was published: {reason}.", reason=reason)


def action_name(t: Texts, action: DraftAction) -> str:
    names = {
        DraftAction.POST: t._("new update"),
        DraftAction.EDIT: t._("correction"),
        DraftAction.WITHDRAW: t._("withdrawal"),
    }
    return names[action]


def drafts_list(t: Texts, drafts: Sequence[tuple[Draft, bool]], needed: int) -> str:
    if not drafts:
        return t.md("No open drafts.")
    lines = []
    for draft, mine in drafts:
        line = f"- {code(draft.id)} {esc(action_name(t, draft.action))}: {esc(draft.title)}"
        if needed > 1:
            line += " " + t.md(
                "({have} of {needed} approvals)", have=len(draft.approvers), needed=needed
            )
        if mine:
            line += " " + t.md("(yours)")
        lines.append(line)
    return bold(t.md("Open drafts")) + "\n\n" + "\n".join(lines)


def items_list(t: Texts, items: Sequence[tuple[Item, str]]) -> str:
    if not items:
        return t.md("No updates yet.")
    lines = [
        f"- {code(item.id)} {esc(t.short_date(item.date))}: {esc(item.title)}"
        + (f" ({esc(note)})" if note else "")
        for item, note in items
    ]
    return bold(t.md("Recent updates")) + "\n\n" + "\n".join(lines)


def halted(t: Texts, item_id: str, sent: int, stopped: int, going: int) -> str:
    text = t.nmd(
        "Halted {id}: {count} chat will not get it; {sent} already did.",
        "Halted {id}: {count} chats will not get it; {sent} already did.",
        stopped,
        id=item_id,
        sent=sent,
    )
    if going:
        text += " " + t.nmd(
            "{count} message was still going out.", "{count} messages were still going out.", going
        )
    return text + " " + t.md("/withdraw {id} takes back what was sent.", id=item_id)


def nothing_to_halt(t: Texts, item_id: str, sent: int) -> str:
    return t.nmd(
        "Nothing of {id} is waiting to go out ({count} chat got it).",
        "Nothing of {id} is waiting to go out ({count} chats got it).",
        sent,
        id=item_id,
    )
