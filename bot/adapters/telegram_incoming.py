"""Which Telegram updates are commands for this bot, and in what form the core gets them.

Pure functions over PTB's `Update`: no network. The adapter adds what needs
the network (is a group member an admin? the document's bytes) before
building `Incoming`.

A document counts as a command: its caption when that is one (`/post`,
`/edit some-id`), else `/post` in a private chat; in groups and channels an
uncaptioned document is chatter and ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telegram import Chat, Message, MessageEntity, Update

from bot.adapters.base import ChatKind
from bot.adapters.telegram_markdown import to_markdown

_KINDS = {
    Chat.PRIVATE: ChatKind.PRIVATE,
    Chat.GROUP: ChatKind.GROUP,
    Chat.SUPERGROUP: ChatKind.GROUP,
    Chat.CHANNEL: ChatKind.CHANNEL,
}


@dataclass(frozen=True)
class FileRef:
    """A document sent with the message, before anyone downloads it."""

    file_id: str
    filename: str
    size: int | None  # bytes, as Telegram said (it may not say)


@dataclass(frozen=True)
class Received:
    """A message the core should answer, before the admin check."""

    chat_id: str
    chat_kind: ChatKind
    text: str
    user_id: int | None  # None for channel posts and anonymous group admins
    # Posted by an anonymous admin of the group itself (sender_chat is the group).
    anonymous_admin: bool
    # The sender's client language (`language_code`), if Telegram told it.
    language: str | None = None
    # The message (a document's caption) as Markdown, its command written like
    # `text`'s; None for a document whose caption is not a command.
    markdown: str | None = None
    file: FileRef | None = None


def normalise_command(text: str, bot_username: str) -> str | None:
    """`/cmd@thisbot args` -> `/cmd args`; None for `/cmd@otherbot`.

    The lines after the command line stay as they are (`/post\nTitle\nBody`).
    """
    text = text.strip()
    head = text.split(maxsplit=1)[0]
    rest = text[len(head) :].lstrip(" \t")
    name, at, target = head.partition("@")
    if at:
        if target.lower() != bot_username.lower():
            return None
        head = name
    if not rest:
        return head
    return head + ("" if rest.startswith("\n") else " ") + rest


def message_markdown(
    raw: str, entities: Sequence[MessageEntity], command: str | None = None
) -> str:
    """`raw` with its entities as Markdown; with `command` (the normalised
    command text) its first word is written as there (`/post`, not
    `/post@strikewire\\_bot`), so the core can cut it off the same way."""
    markdown = to_markdown(raw, entities).strip()
    if command is None:
        return markdown
    typed = raw.strip().split(maxsplit=1)[0]
    written = to_markdown(typed)
    if markdown.startswith(written):
        markdown = command.split(maxsplit=1)[0] + markdown[len(written) :]
    return markdown


def _file(message: Message) -> FileRef | None:
    document = message.document
    if document is None:
        return None
    return FileRef(document.file_id, document.file_name or "document", document.file_size)


def received(update: Update, bot_username: str) -> Received | None:
    """The command in `update`, or None if the core has nothing to answer.

    Commands count in every chat kind; a private chat's other text reaches the
    core too (it answers with help); other text in groups and channels, edits,
    and messages from other bots are ignored. A document comes as its caption
    (a command) or as `/post` in a private chat.
    """
    message = update.message or update.channel_post
    if message is None:
        return None
    file = _file(message)
    if file is not None:
        raw, entities = message.caption or "", message.caption_entities
    elif message.text is not None:
        raw, entities = message.text, message.entities
    else:
        return None
    chat = message.chat
    kind = _KINDS.get(chat.type)
    if kind is None:
        return None
    text = raw.strip()
    user = message.from_user
    anonymous_admin = message.sender_chat is not None and message.sender_chat.id == chat.id
    if kind is ChatKind.GROUP:
        if message.sender_chat is not None and not anonymous_admin:
            return None  # a linked channel's post or someone writing as a channel
        if user is not None and user.is_bot and not anonymous_admin:
            return None
    elif kind is ChatKind.PRIVATE and (user is None or user.is_bot):
        return None
    markdown: str | None
    if text.startswith("/"):
        normalised = normalise_command(text, bot_username)
        if normalised is None:
            return None
        text, markdown = normalised, message_markdown(raw, entities, normalised)
    elif kind is not ChatKind.PRIVATE:
        return None
    elif file is not None:
        text, markdown = "/post", None  # the file is the update; a caption is a note to us
    else:
        markdown = message_markdown(raw, entities)
    user_id = None if user is None or anonymous_admin else user.id
    language = user.language_code if user is not None and not anonymous_admin else None
    return Received(str(chat.id), kind, text, user_id, anonymous_admin, language, markdown, file)


def removed_from(update: Update) -> str | None:
    """The chat id when `update` says the bot was kicked from or left a chat
    (or a user blocked it in a private chat)."""
    change = update.my_chat_member
    if change is None:
        return None
    if change.new_chat_member.status in ("kicked", "left"):
        return str(change.chat.id)
    return None
