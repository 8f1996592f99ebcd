"""Typed outbox rows (kind), the revision a chat has, the row an edit acts on,
and the due index in claim order."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="broadcast")
        )
        batch.add_column(sa.Column("revision", sa.String(16), nullable=True))
        batch.add_column(
            sa.Column(
                "target_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=True
            )
        )
    # Rows written before kinds existed said what they were in `variant`.
    op.execute("UPDATE outbox SET kind = 'reminder' WHERE variant LIKE 'reminder%'")
    op.execute("UPDATE outbox SET kind = 'moved' WHERE variant LIKE 'changed%'")
    op.create_index("ix_outbox_target", "outbox", ["target_id"])
    # A withdrawal finds every message of an item.
    op.create_index("ix_outbox_item", "outbox", ["item_id"])
    # Claims read due rows in (due_at, id) order straight from the index.
    op.drop_index("ix_outbox_due", "outbox")
    op.create_index("ix_outbox_due", "outbox", ["platform", "state", "due_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_due", "outbox")
    op.create_index("ix_outbox_due", "outbox", ["platform", "state", "due_at"])
    op.drop_index("ix_outbox_item", "outbox")
    op.drop_index("ix_outbox_target", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("target_id")
        batch.drop_column("revision")
        batch.drop_column("kind")
