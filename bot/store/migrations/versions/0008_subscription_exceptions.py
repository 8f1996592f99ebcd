"""A chat that follows every campaign may leave some out.

`subscriptions` rows of a chat with `everything` set now name the campaigns
it does not follow (after `/unsubscribe X` in a chat that followed every
campaign); before, such rows were ignored. They existed only where
`/subscribe X` was answered "Subscribed to: X" while the chat kept receiving
everything: those chats now follow only what they asked for, as they were
told. A configured destination follows everything, so its rows go.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None

subscribers = sa.table(
    "subscribers",
    sa.column("id", sa.Integer),
    sa.column("everything", sa.Boolean),
    sa.column("source", sa.String),
)
subscriptions = sa.table(
    "subscriptions", sa.column("subscriber_id", sa.Integer), sa.column("campaign", sa.String)
)


def _everything(source: str | None = None) -> sa.ScalarSelect[int]:
    """The chats following every campaign (of `source`, if given)."""
    where = [subscribers.c.everything == sa.true()]
    if source is not None:
        where.append(subscribers.c.source == source)
    return sa.select(subscribers.c.id).where(*where).scalar_subquery()


def upgrade() -> None:
    op.execute(
        subscriptions.delete().where(subscriptions.c.subscriber_id.in_(_everything("config")))
    )
    named = sa.select(subscriptions.c.subscriber_id).scalar_subquery()
    op.execute(
        subscribers.update()
        .where(subscribers.c.everything == sa.true(), subscribers.c.id.in_(named))
        .values(everything=False)
    )


def downgrade() -> None:
    # The older code reads no exceptions: such a chat follows everything again.
    op.execute(subscriptions.delete().where(subscriptions.c.subscriber_id.in_(_everything())))
