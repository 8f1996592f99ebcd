"""The database tables, as SQLAlchemy Core metadata.

Times are stored as Unix seconds (floats): the same on SQLite and PostgreSQL,
cheap to compare, and never ambiguous about time zones. The migrations in
`migrations/versions/` create exactly these tables; a test checks they agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from bot.privacy.marks import Holds, Identity, Keeping, NotIdentity, Protection

metadata = MetaData()

# The identity marks (bot/privacy/marks.py): every column holding a chat,
# room, user or message id, or anything derived from one, carries one, and
# sealing, key rotation, scrubbing, /forget and retention take their lists
# from them. A table holding one says how its rows leave (`Keeping`).
CHAT_INDEX = Identity(Holds.CHAT, Protection.PSEUDONYMISED).info()
CHAT_BOX = Identity(Holds.CHAT, Protection.SEALED).info()
MESSAGE_IDS = Identity(Holds.MESSAGES, Protection.SEALED).info()
ADMIN_HASH = Identity(Holds.ADMIN, Protection.PSEUDONYMISED).info()

# The outbox states the claims' partial indexes hold, as SQL. A query uses such
# an index only if it names the state as this same literal, never as a bound
# parameter (`in_state`, below).
STATE_IS = {state: f"state = '{state}'" for state in ("queued", "sending")}

# One chat that receives updates. No names, no user ids: only where to send.
# With a privacy key, `chat_id` is a blind index and `chat_box` the sealed id
# (bot/privacy/identities.py); without one, `chat_box` is empty.
subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("chat_id", String(255), nullable=False, info=CHAT_INDEX),
    Column("chat_box", Text, nullable=True, info=CHAT_BOX),
    Column("language", String(8), nullable=True),
    # Follows every campaign, new ones too (the default after /start), but
    # those in `subscriptions`; when false, only those in `subscriptions`.
    Column("everything", Boolean, nullable=False, default=True),
    Column("active", Boolean, nullable=False, default=True),
    # "chat": subscribed from the chat; "config": a configured destination.
    Column("source", String(8), nullable=False, default="chat"),
    Column("created_at", Float, nullable=False),
    # When it stopped; deleted privacy.keep_inactive_subscribers later.
    Column("inactive_since", Float, nullable=True),
    UniqueConstraint("platform", "chat_id", name="uq_subscribers_chat"),
    info=Keeping(
        rows="chats", purge="purge_inactive", kept="privacy.keep_inactive_subscribers"
    ).info(),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        primary_key=True,
        info=NotIdentity("a subscribers row's id; deleted with it").info(),
    ),
    Column("campaign", String(64), primary_key=True),
)

# One message to one chat. Written before sending, marked after: the unique
# key makes enqueuing the same message twice a no-op.
outbox = Table(
    "outbox",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("message_key", String(200), nullable=False),
    Column("item_id", String(128), nullable=False),
    Column("variant", String(64), nullable=False, default=""),
    # What the row does (bot.store.RowKind): broadcast, reminder, moved, edit,
    # notice or delete; `variant` adds detail within a kind (a late reminder).
    Column("kind", String(16), nullable=False, default="broadcast", server_default="broadcast"),
    # Broadcasts: the revision (a digest of the text) the chat has now;
    # edits and notices: the revision they were written for.
    Column("revision", String(16), nullable=True),
    # Edits, notices and deletions: the row whose messages they act on.
    Column(
        "target_id",
        BigInteger().with_variant(Integer, "sqlite"),
        nullable=True,
        info=NotIdentity("an outbox row's id").info(),
    ),
    Column("platform", String(16), nullable=False),
    Column("chat_id", String(255), nullable=False, info=CHAT_INDEX),
    Column("chat_box", Text, nullable=True, info=CHAT_BOX),
    Column("language", String(8), nullable=True),
    Column("state", String(8), nullable=False),  # queued | sending | sent | failed | halted
    Column("attempts", Integer, nullable=False, default=0),
    Column("due_at", Float, nullable=False),
    Column("leased_until", Float, nullable=True),
    # Which delivery worker holds the lease: a random token per worker run, so
    # a worker renews, records and gives back only rows that are still its own.
    Column(
        "claimed_by",
        String(32),
        nullable=True,
        info=NotIdentity("a delivery worker's random token").info(),
    ),
    Column("last_error", String(64), nullable=True),  # an error kind, never message text
    Column("message_ids", Text, nullable=True, info=MESSAGE_IDS),
    Column("created_at", Float, nullable=False),
    Column("done_at", Float, nullable=True),
    # The item first, so the key also serves every lookup by item (a withdrawal,
    # a correction): one index less for each fan-out to write.
    UniqueConstraint(
        "item_id", "message_key", "platform", "chat_id", name="uq_outbox_message_chat"
    ),
    # The claims' indexes hold only rows waiting or in flight: a fan-out writes
    # one entry per row into one of them, and a sent row leaves both.
    *(
        Index(
            f"ix_outbox_{state}",
            "platform",
            "due_at",
            "id",
            postgresql_where=text(where),
            sqlite_where=text(where),
        )
        for state, where in STATE_IS.items()
    ),
    info=Keeping(
        rows="delivery records", purge="purge_done", kept="privacy.keep_delivery_records"
    ).info(),
)

# Messages already fanned out (items and reminders): the dispatcher's memory.
broadcasts = Table(
    "broadcasts",
    metadata,
    Column("message_key", String(200), primary_key=True),
    Column("item_id", String(128), nullable=False),
    Column("enqueued_at", Float, nullable=False),
    Column("recipients", Integer, nullable=False, info=NotIdentity("a count, no chat").info()),
)

# Small values an adapter keeps across restarts (the Matrix sync token).
adapter_state = Table(
    "adapter_state",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("value", Text, nullable=False),
)

# Organisers' drafts from the chat (/post, /edit, /withdraw) until they are
# published, cancelled or expire; then the row is deleted. `owner` and
# `approvers` are keyed hashes, never a platform user id.
drafts = Table(
    "drafts",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("action", String(8), nullable=False),  # post | edit | withdraw
    Column("item_id", String(128), nullable=True),  # what /edit and /withdraw act on
    Column("title", String(200), nullable=False),
    Column("text", Text, nullable=False),  # the whole update file it writes
    Column("owner", String(64), nullable=False, info=ADMIN_HASH),
    # Comma-separated hashes.
    Column("approvers", Text, nullable=False, default="", info=ADMIN_HASH),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("based_on", String(32), nullable=True),
    info=Keeping(
        rows="drafts", purge="drop_expired_drafts", kept="publishing.drafts_expire"
    ).info(),
)


def in_state(state: str) -> ColumnElement[bool]:
    """`outbox.state = '<state>'` with the state inline, so the claims' partial
    index for it can serve the query (SQLite and PostgreSQL's generic plans
    cannot match an index's predicate against a bound parameter)."""
    assert state in STATE_IS
    return outbox.c.state == literal_column(f"'{state}'")
