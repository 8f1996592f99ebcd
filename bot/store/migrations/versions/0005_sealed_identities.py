"""Room for sealed identities and for forgetting stopped chats.

`chat_box` holds a chat id sealed with the privacy key (bot/privacy), beside
`chat_id`, which then holds its blind index; sealed message ids outgrow 255
characters, so `message_ids` becomes text. `inactive_since` says when a chat
stopped, so it can be deleted after `privacy.keep_inactive_subscribers`.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subscribers", sa.Column("chat_box", sa.Text, nullable=True))
    op.add_column("subscribers", sa.Column("inactive_since", sa.Float, nullable=True))
    op.add_column("outbox", sa.Column("chat_box", sa.Text, nullable=True))
    with op.batch_alter_table("outbox") as outbox:
        outbox.alter_column("message_ids", type_=sa.Text)
    # Chats already stopped count as stopped from now on.
    subscribers = sa.table(
        "subscribers", sa.column("active", sa.Boolean), sa.column("inactive_since", sa.Float)
    )
    op.execute(
        subscribers.update()
        .where(subscribers.c.active == sa.false())
        .values(inactive_since=time.time())
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as outbox:
        outbox.alter_column("message_ids", type_=sa.String(255))
    op.drop_column("outbox", "chat_box")
    op.drop_column("subscribers", "inactive_since")
    op.drop_column("subscribers", "chat_box")
