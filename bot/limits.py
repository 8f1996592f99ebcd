"""Sizes more than one layer must agree on, in a leaf every layer may import.

The largest document the bot reads is both what an adapter downloads from a
chat (a draft sent as a file) and what the catalog reads from `updates/`: one
number, so a draft that arrives is never refused when it lands in the folder.
"""

from __future__ import annotations

from typing import Final

# Far more than any bulletin needs; a larger file is a mistake (a pasted log,
# a binary) that would reach every reader as thousands of messages.
MAX_DOCUMENT_BYTES: Final = 1024 * 1024
