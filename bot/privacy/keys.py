"""The operator's privacy key and the keys derived from it.

One 32-byte secret (`privacy.key`, base64) gives, through HKDF, a key for each
job: AES-GCM for sealing identities, HMAC for their blind index, and a check
value stored in the database so a wrong key is told apart from a right one
before anything is read or written. None of the derived values reveals the
secret or another derived key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
# A blind index of 16 bytes: collisions are out of reach at any subscriber count.
INDEX_BYTES = 16


def new_key() -> str:
    """A fresh privacy key as `strikewire keygen` prints it."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def read_key(text: str) -> bytes:
    """The 32 bytes of a base64 key; ValueError with the fix otherwise."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not base64 (make one with `strikewire keygen`)") from None
    if len(key) != KEY_BYTES:
        raise ValueError(
            f"is {len(key)} bytes, not {KEY_BYTES} (make one with `strikewire keygen`)"
        )
    return key


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key)


class SealError(Exception):
    """A sealed value that this key does not open (another key, or altered)."""


class Keyring:
    """The keys derived from one privacy key, each used for one thing only."""

    def __init__(self, key: bytes) -> None:
        self._index_key = _derive(key, b"strikewire index v1")
        self._aead = AESGCM(_derive(key, b"strikewire seal v1"))
        # Stored in the database: equal for the same key, useless without it.
        self.check = _derive(key, b"strikewire check v1").hex()
        # Hashes drafts' owners (bot/chat/publishing.py); never stored.
        self.publishing = _derive(key, b"strikewire publishing v1")
        # Keys the chat pseudonyms in log lines (bot/logs.py).
        self.logs = _derive(key, b"strikewire logs v1")

    def index(self, context: str, value: str) -> str:
        """A keyed, deterministic stand-in for `value`: equal values, equal
        indexes, so look-ups and unique keys work without the value."""
        mac = hmac.digest(self._index_key, f"{context}\0{value}".encode(), hashlib.sha256)
        return "i" + base64.urlsafe_b64encode(mac[:INDEX_BYTES]).rstrip(b"=").decode("ascii")

    def seal(self, context: str, value: str) -> str:
        """`value` encrypted with a fresh nonce, bound to `context`."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode(), context.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, context: str, sealed: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(sealed)
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except Exception as exc:  # InvalidTag, bad base64, short input
            raise SealError("a sealed value does not open with this key") from exc
        return plain.decode()
