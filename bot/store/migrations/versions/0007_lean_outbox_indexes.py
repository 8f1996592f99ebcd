"""The outbox keeps three indexes where it had four, and smaller ones.

A million-row fan-out on PostgreSQL spends its time writing index entries,
about a second per index per million rows on a 2-vCPU machine
(docs/benchmarks.md). So:
- the unique key starts with `item_id`, and the index on `item_id` alone
  goes: the key serves every lookup by item, and those by message key name
  the item too;
- the claims' index on (platform, state, due_at, id) becomes two partial
  indexes on (platform, due_at, id), one holding the queued rows and one the
  rows in flight. A sent row, most of the table, is in neither.

On SQLite the unique key cannot change in place: the table is copied.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None

STATES = ("queued", "sending")


def _unique_key(columns: list[str]) -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("uq_outbox_message_chat", type_="unique")
        batch.create_unique_constraint("uq_outbox_message_chat", columns)


def upgrade() -> None:
    op.drop_index("ix_outbox_due", "outbox")
    op.drop_index("ix_outbox_item", "outbox")
    _unique_key(["item_id", "message_key", "platform", "chat_id"])
    for state in STATES:
        where = sa.text(f"state = '{state}'")
        op.create_index(
            f"ix_outbox_{state}",
            "outbox",
            ["platform", "due_at", "id"],
            postgresql_where=where,
            sqlite_where=where,
        )


def downgrade() -> None:
    for state in STATES:
        op.drop_index(f"ix_outbox_{state}", "outbox")
    _unique_key(["message_key", "platform", "chat_id"])
    op.create_index("ix_outbox_item", "outbox", ["item_id"])
    op.create_index("ix_outbox_due", "outbox", ["platform", "state", "due_at", "id"])
