"""Chat identities as the store keeps them.

Every table that names a chat has two columns: `chat_id`, what look-ups and
unique keys use, and `chat_box`, what the chat id is read back from. Without
a key `chat_id` is the platform's id and `chat_box` is empty. With a key
`chat_id` is a blind index (HMAC) and `chat_box` the id sealed with AES-GCM,
so the file holds no id in any form, and equality still works in SQL:
fan-out copies both columns from subscribers to the outbox untouched.
Platform message ids are sealed in place (`message_ids`).
"""

from __future__ import annotations

from bot.privacy.keys import Keyring


class Identities:
    """Turns chat and message ids into what is stored, and back."""

    def __init__(self, keyring: Keyring | None = None) -> None:
        self.keyring = keyring

    @property
    def sealed(self) -> bool:
        return self.keyring is not None

    def index(self, platform: str, chat_id: str) -> str:
        """The `chat_id` column's value for a chat."""
        if self.keyring is None:
            return chat_id
        return self.keyring.index(platform, chat_id)

    def box(self, platform: str, chat_id: str) -> str | None:
        """The `chat_box` column's value for a chat."""
        if self.keyring is None:
            return None
        return self.keyring.seal(f"chat:{platform}", chat_id)

    def columns(self, platform: str, chat_id: str) -> dict[str, str | None]:
        """Both stored columns of a chat, for an INSERT or UPDATE."""
        return {"chat_id": self.index(platform, chat_id), "chat_box": self.box(platform, chat_id)}

    def chat(self, platform: str, index: str, box: str | None) -> str:
        """The platform's chat id from a row's `chat_id` and `chat_box`."""
        if box is None or self.keyring is None:
            return index
        return self.keyring.open(f"chat:{platform}", box)

    def seal_ids(self, ids: str | None) -> str | None:
        """The `message_ids` column's value for the comma-joined ids of a send."""
        if not ids or self.keyring is None:
            return ids
        return self.keyring.seal("messages", ids)

    def open_ids(self, stored: str | None) -> str | None:
        if not stored or self.keyring is None:
            return stored
        return self.keyring.open("messages", stored)
