"""Which Telegram updates are commands for this bot, and in what form the core gets them.

Pure functions over PTB's `Update`: no network. The adapter adds what needs
the network (is a group member an admin?) before building `Incoming`.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Chat, Update

from bot.adapters.base import ChatKind

_KINDS = {
    Chat.PRIVATE: ChatKind.PRIVATE,
    Chat.GROUP: ChatKind.GROUP,
    Chat.SUPERGROUP: ChatKind.GROUP,
    Chat.CHANNEL: ChatKind.CHANNEL,
}


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


def normalise_command(text: str, bot_username: str) -> str | None:
    """`/cmd@thisbot args` -> `/cmd args`; None for `/cmd@otherbot`."""
    head, sep, rest = text.strip().partition(" ")
    name, at, target = head.partition("@")
    if at:
        if target.lower() != bot_username.lower():
            return None
        head = name
    return f"{head}{sep}{rest.strip()}" if rest.strip() else head


def received(update: Update, bot_username: str) -> Received | None:
    """The command in `update`, or None if the core has nothing to answer.

    Commands count in every chat kind; a private chat's other text reaches the
    core too (it answers with help); other text in groups and channels, edits,
    and messages from other bots are ignored.
    """
    message = update.message or update.channel_post
    if message is None or message.text is None:
        return None
    chat = message.chat
    kind = _KINDS.get(chat.type)
    if kind is None:
        return None
    text = message.text.strip()
    user = message.from_user
    anonymous_admin = message.sender_chat is not None and message.sender_chat.id == chat.id
    if kind is ChatKind.GROUP:
        if message.sender_chat is not None and not anonymous_admin:
            return None  # a linked channel's post or someone writing as a channel
        if user is not None and user.is_bot and not anonymous_admin:
            return None
    elif kind is ChatKind.PRIVATE and (user is None or user.is_bot):
        return None
    if text.startswith("/"):
        normalised = normalise_command(text, bot_username)
        if normalised is None:
            return None
        text = normalised
    elif kind is not ChatKind.PRIVATE:
        return None
    user_id = None if user is None or anonymous_admin else user.id
    language = user.language_code if user is not None and not anonymous_admin else None
    return Received(str(chat.id), kind, text, user_id, anonymous_admin, language)


def removed_from(update: Update) -> str | None:
    """The chat id when `update` says the bot was kicked from or left a chat
    (or a user blocked it in a private chat)."""
    change = update.my_chat_member
    if change is None:
        return None
    if change.new_chat_member.status in ("kicked", "left"):
        return str(change.chat.id)
    return None
