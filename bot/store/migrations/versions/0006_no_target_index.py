"""The outbox loses its index on `target_id`.

No query looks rows up by `target_id` (an edit, notice or deletion reads its
target by the target's own id), yet every row paid for the index: a
million-row fan-out wrote a million NULL entries into it, about a fifth of
the fan-out's time on PostgreSQL.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_outbox_target", "outbox")


def downgrade() -> None:
    op.create_index("ix_outbox_target", "outbox", ["target_id"])
