"""Subscribers, subscriptions, outbox, broadcasts and adapter state."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(255), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("everything", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("platform", "chat_id", name="uq_subscribers_chat"),
    )
    op.create_table(
        "subscriptions",
        sa.Column(
            "subscriber_id",
            sa.Integer,
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("campaign", sa.String(64), primary_key=True),
    )
    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("message_key", sa.String(200), nullable=False),
        sa.Column("item_id", sa.String(128), nullable=False),
        sa.Column("variant", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(255), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("due_at", sa.Float, nullable=False),
        sa.Column("leased_until", sa.Float, nullable=True),
        sa.Column("last_error", sa.String(64), nullable=True),
        sa.Column("message_ids", sa.String(255), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("done_at", sa.Float, nullable=True),
        sa.UniqueConstraint("message_key", "platform", "chat_id", name="uq_outbox_message_chat"),
    )
    op.create_index("ix_outbox_due", "outbox", ["platform", "state", "due_at"])
    op.create_table(
        "broadcasts",
        sa.Column("message_key", sa.String(200), primary_key=True),
        sa.Column("item_id", sa.String(128), nullable=False),
        sa.Column("enqueued_at", sa.Float, nullable=False),
        sa.Column("recipients", sa.Integer, nullable=False),
    )
    op.create_table(
        "adapter_state",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("adapter_state", "broadcasts", "outbox", "subscriptions", "subscribers"):
        op.drop_table(table)
