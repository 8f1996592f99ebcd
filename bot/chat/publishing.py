"""Organisers publish, correct, withdraw and halt from a private chat with the bot.

`updates/` stays the one source of truth: /publish writes the file (through
bot/content/writer.py) and the usual pipeline does the rest (reload → fan-out
→ outbox → send; corrections and withdrawals through the follow-up rows).

- /post, /edit ID, /withdraw ID write a *draft* and answer with a preview:
  the message exactly as subscribers get it, and what it would do.
- /publish (the same admin) makes it take effect; with
  `publishing.approvals: 2` another admin must /approve it too.
- /halt ID drops an item's rows that have not gone out; it, /cancel,
  /drafts and /items live in bot/chat/desk.py with what every one of these
  commands shares.

Only the table's `Who.ADMINS` + `private` rows reach these handlers: the
refusals are decided in bot/chat/commands.py before anything is read.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from bot.adapters.base import Outgoing
from bot.chat import desk_answers as say
from bot.chat.desk import DeskCommands
from bot.chat.drafting import Written, from_document, from_text
from bot.chat.table import Asked
from bot.cleantext import clean
from bot.content.items import Item
from bot.content.writer import WriteError, candidates, replace, with_withdrawn, write_new
from bot.i18n import Texts
from bot.store import Draft, DraftAction

log = logging.getLogger(__name__)

MAX_REASON = 300


@dataclass(frozen=True)
class Preview:
    """A checked draft: the file it writes and the item it becomes."""

    written: Written
    item: Item


class PublishingCommands(DeskCommands):
    """/post, /edit, /withdraw write drafts; /publish and /approve apply them."""

    # Drafting.

    def _written(self, q: Asked, text: str, editing: str | None = None) -> Written | str | None:
        """The file the admin sent (document first, else the text); a str is
        an answer explaining why there is none."""
        today = self.now().astimezone(self.catalog.zone).date()
        doc = q.msg.document
        if doc is not None:
            written = from_document(doc, today, editing=editing)
            if isinstance(written, str):
                return say.document_refused(q.t, doc.filename, written, doc.size)
            return written
        first_line = 1 + q.rest[: len(q.rest) - len(text)].count("\n")
        return from_text(text, first_line, today, editing=editing)

    def _check(self, q: Asked, written: Written, stem: str) -> Preview | str:
        if written.bad:
            # Where the admin typed them, before any file is made.
            return say.problems(
                q.t, [say.at_line(q.t, written.source, b.line, b.message()) for b in written.bad]
            )
        item, problems = self.catalog.check_text(stem, written.text.encode())
        if item is None:
            lines = [
                say.at_line(
                    q.t, written.source, written.where(p.line) if p.line else None, p.message
                )
                for p in problems
            ]
            return say.problems(q.t, lines)
        return Preview(written, item)

    async def _audience(self, item: Item) -> tuple[int, list[str]]:
        """(chats, their languages) an item would reach now."""
        by_language = await self.store.audience(item.campaigns, self._desk().platforms)
        chats = sum(by_language.values())
        languages = {lang or self.default_lang for lang, n in by_language.items() if n}
        return chats, sorted(languages)

    async def _save(
        self, q: Asked, action: DraftAction, item_id: str | None, title: str, text: str
    ) -> Draft:
        now = self.now().timestamp()
        draft = Draft(
            id=secrets.token_hex(3),
            action=action,
            item_id=item_id,
            title=title,
            text=text,
            owner=self._owner(q.msg),
            approvers=(),
            created_at=now,
            expires_at=now + self._desk().config.drafts_expire.total_seconds(),
            based_on=self._digest_of(item_id),
        )
        await self.store.add_draft(draft)
        log.info("draft written platform=%s action=%s", q.msg.platform, action.value)
        return draft

    def _digest_of(self, item_id: str | None) -> str | None:
        item = self.catalog.everything().get(item_id) if item_id else None
        return item.digest if item else None

    def _expires(self, draft: Draft) -> datetime:
        return datetime.fromtimestamp(draft.expires_at, self.catalog.zone)

    async def cmd_post(self, q: Asked) -> list[Outgoing]:
        written = self._written(q, q.rest)
        if written is None:
            return [Outgoing(say.usage_post(q.t))]
        if isinstance(written, str):
            return [Outgoing(written)]
        fallback = self._stem(written.title)
        checked = self._check(q, written, fallback)
        if isinstance(checked, str):
            return [Outgoing(checked)]
        item = checked.item
        explicit = item.id if item.id != fallback else None
        if explicit and (explicit in self.catalog.everything() or self._file_exists(explicit)):
            return [Outgoing(say.id_taken(q.t, explicit))]
        draft = await self._save(q, DraftAction.POST, explicit, item.title, written.text)
        return [self._preview(item, q), Outgoing(await self._post_summary(q.t, item, draft))]

    def _file_exists(self, stem: str) -> bool:
        return (self.catalog.directory / f"{stem}.md").exists()

    async def _post_summary(self, t: Texts, item: Item, draft: Draft) -> str:
        chats, languages = await self._audience(item)
        lines = [say.audience(t, chats, languages)]
        if item.publish_at is not None and item.publish_at > self.now():
            lines.append(say.scheduled(t, item.publish_at))
        if item.published_at < self.now() - self._desk().max_age:
            lines.append(say.too_old(t, self._desk().max_age.days))
        lines.append(say.draft_footer(t, draft.id, self._expires(draft)))
        return "\n\n".join(lines)

    async def cmd_edit(self, q: Asked) -> list[Outgoing]:
        if not q.args:
            return [Outgoing(say.usage_edit(q.t))]
        item_id = q.args[0].lower()
        old = self.catalog.everything().get(item_id)
        path = self.catalog.file_of(item_id)
        if old is None or path is None:
            return [Outgoing(say.no_such_item(q.t, item_id))]
        current = path.read_text(encoding="utf-8")
        # The text after the id (which may arrive escaped: `my\_id`).
        words = q.rest.lstrip().split(None, 1)
        text = words[1] if len(words) > 1 else ""
        written = self._written(q, text, editing=current)
        if written is None:
            return [Outgoing(say.usage_edit(q.t))]
        if isinstance(written, str):
            return [Outgoing(written)]
        checked = self._check(q, written, path.stem)
        if isinstance(checked, str):
            return [Outgoing(checked)]
        new = dataclasses.replace(checked.item, translations=old.translations)
        if new.id != old.id:
            return [Outgoing(say.id_changed(q.t, old.id, new.id))]
        draft = await self._save(q, DraftAction.EDIT, old.id, new.title, written.text)
        effect = await self._edit_effect(q.t, new)
        footer = say.draft_footer(q.t, draft.id, self._expires(draft))
        return [self._preview(new, q), Outgoing(f"{effect}\n\n{footer}")]

    async def _edit_effect(self, t: Texts, item: Item) -> str:
        sent = await self.store.sent_chats(item.id)
        effect = await self._desk().dispatcher.corrections(item, self.now(), dry_run=True)
        return say.edit_effect(t, effect.edits, effect.notices, sent)

    async def cmd_withdraw(self, q: Asked) -> list[Outgoing]:
        if not q.args:
            return [Outgoing(say.usage_id(q.t, "withdraw"))]
        item_id = q.args[0].lower()
        item = self.catalog.everything().get(item_id)
        if item is None:
            return [Outgoing(say.no_such_item(q.t, item_id))]
        if item.withdrawn is not None:
            return [Outgoing(say.already_withdrawn(q.t, item_id))]
        # The reason is written into the file: no control characters in it.
        reason = clean(" ".join(q.args[1:]))[:MAX_REASON]
        draft = await self._save(q, DraftAction.WITHDRAW, item.id, item.title, reason)
        sent = await self.store.sent_chats(item.id)
        return [
            Outgoing(
                say.withdraw_preview(q.t, item, sent) + "\n\n" + say.withdraw_footer(q.t, draft.id)
            )
        ]

    # Taking effect.

    async def cmd_publish(self, q: Asked) -> list[Outgoing]:
        found = await self._find(q, own=True)
        if isinstance(found, str):
            return [Outgoing(found)]
        me = self._owner(q.msg)
        if found.owner != me:
            return [Outgoing(say.not_yours(q.t, found.id))]
        return [Outgoing(await self._approve(q, found, me))]

    async def cmd_approve(self, q: Asked) -> list[Outgoing]:
        if not q.args:
            return [Outgoing(say.usage_id(q.t, "approve"))]
        found = await self._find(q, own=False)
        if isinstance(found, str):
            return [Outgoing(found)]
        me = self._owner(q.msg)
        if me in found.approvers or (found.owner == me and self._desk().config.approvals > 1):
            return [Outgoing(say.own_approval(q.t, found.id))]
        text = await self._approve(q, found, me)
        return [Outgoing(text)]

    async def _approve(self, q: Asked, draft: Draft, me: str) -> str:
        """Count `me`'s approval; apply the draft once it has enough (its
        author's /publish among them)."""
        needed = self._desk().config.approvals
        for _ in range(3):  # another admin approving at the same moment: read again
            if me in draft.approvers or await self.store.approve_draft(
                draft.id, me, draft.approvers
            ):
                break
            again = await self.store.draft(draft.id, self.now().timestamp())
            if again is None:
                return say.gone_meanwhile(q.t, draft.id)
            draft = again
        approvers = {*draft.approvers, me}
        if draft.owner not in approvers:
            return say.not_published_yet(q.t, draft.id)
        if len(approvers) < needed:
            await self._desk().tell_admins(
                say.approval_wanted(self._texts_default(), draft), (q.msg.platform, q.msg.chat_id)
            )
            return say.waiting(q.t, draft.id, needed - len(approvers))
        outcome = await self._apply(q.t, draft)
        if draft.owner != me:
            await self._desk().tell_admins(
                say.approved_elsewhere(self._texts_default(), draft, outcome),
                (q.msg.platform, q.msg.chat_id),
            )
        return outcome

    async def _apply(self, t: Texts, draft: Draft) -> str:
        if not await self.store.take_draft(draft.id):
            return say.gone_meanwhile(t, draft.id)
        try:
            if draft.action is DraftAction.POST:
                return await self._apply_post(t, draft)
            return await self._apply_change(t, draft)
        except (WriteError, OSError) as exc:
            log.warning("publish failed action=%s error=%s", draft.action.value, type(exc).__name__)
            reason = str(exc) if isinstance(exc, WriteError) else exc.strerror or ""
            return say.write_failed(t, reason)

    async def _apply_post(self, t: Texts, draft: Draft) -> str:
        if draft.item_id is not None:
            stems = [draft.item_id]
        else:
            taken = self.catalog.everything()
            stems = [s for s in candidates(self._stem(draft.title)) if s not in taken]
        path = write_new(self.catalog.directory, stems, draft.text)
        await self._desk().reload()
        item_id = path.stem
        item = self.catalog.everything().get(item_id)
        log.info("published item=%s", item_id)
        if item is None:  # the folder changed under the draft (another file took the id)
            problems = [p.message for p in self.catalog.problems if p.path.name == path.name]
            return say.problems(t, problems or [path.name])
        if item.publish_at is not None and item.publish_at > self.now():
            return say.published_later(t, item_id, item.publish_at)
        queued = sum((await self.store.item_row_states(item_id)).values())
        if not queued and item.published_at < self.now() - self._desk().max_age:
            return say.published_not_broadcast(t, item_id)
        return say.published(t, item_id, queued)

    async def _apply_change(self, t: Texts, draft: Draft) -> str:
        assert draft.item_id is not None
        item = self.catalog.everything().get(draft.item_id)
        path = self.catalog.file_of(draft.item_id)
        if item is None or path is None:
            return say.no_such_item(t, draft.item_id)
        if draft.based_on is not None and item.digest != draft.based_on:
            return say.changed_meanwhile(t, draft.item_id)
        if draft.action is DraftAction.EDIT:
            new_item, _ = self.catalog.check_text(path.stem, draft.text.encode())
            effect = ""
            if new_item is not None:
                new_item = dataclasses.replace(new_item, translations=item.translations)
                effect = await self._edit_effect(t, new_item)
            replace(self.catalog.directory, path, draft.text)
            await self._desk().reload()
            log.info("corrected item=%s", draft.item_id)
            return say.corrected(t, draft.item_id, effect)
        sent = await self.store.sent_chats(item.id)
        current = path.read_text(encoding="utf-8")
        replace(self.catalog.directory, path, with_withdrawn(current, draft.text or None))
        await self._desk().reload()
        log.info("withdrawn item=%s", draft.item_id)
        return say.withdrawn(t, draft.item_id, sent)
