"""The tables, declared once for SQLite and PostgreSQL alike.

``migrations/versions`` must create exactly this (a test compares them), so a change here needs a
new revision. Epoch seconds use ``Double`` because ``REAL``/``float4`` would lose milliseconds.
Constraint names follow a convention so later SQLite batch migrations can address them.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Epoch = sa.Double
# INTEGER (not BIGINT) on SQLite, so the column aliases the rowid and autoincrements.
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

SearchKey = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")

users = sa.Table(
    "users",
    metadata,
    sa.Column("uri", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("email", sa.Text),
    sa.Column("title", sa.Text),
    sa.Column("department", sa.Text),
    sa.Column("company", sa.Text),
    sa.Column("office", sa.Text),
    sa.Column("work_phone", sa.Text),
    # Lower-cased "name\nsip:uri\nemail\nphone" for people search (SPEC §12.6); kept by add_user.
    # Byte order ("C") on PostgreSQL so that a prefix is one index range, as it is on SQLite.
    sa.Column("search_key", SearchKey),
    # The account (not the address): tokens name it, so a re-created address starts afresh.
    sa.Column("id", sa.Text, nullable=False),
    sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
    sa.Column("source", sa.Text, nullable=False, server_default="local"),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("dn", sa.Text),
    sa.Column("upn", sa.Text),
    sa.Column("login", sa.Text),
    # The lower-cased DN (group members name people by DN, in any case) and the last directory
    # sync pass that saw the entry: people whose pass is older after a full pass have left.
    sa.Column("dn_key", sa.Text),
    sa.Column("sync_pass", sa.BigInteger),
    sa.Index("ix_users_search_key", "search_key"),
    sa.Index("ix_users_email", "email"),
    sa.Index("ix_users_id", "id", unique=True),
    sa.Index("ix_users_source", "source"),
    sa.Index("ix_users_dn_key", "dn_key"),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("token_hash", sa.Text, primary_key=True),
    sa.Column("user_uri", sa.Text, sa.ForeignKey("users.uri", ondelete="CASCADE"), nullable=False),
    sa.Column("expires_at", Epoch, nullable=False),
    # Valid only while the account has this id and generation (store.sql get_token).
    sa.Column("account_id", sa.Text),
    sa.Column("generation", sa.Integer),
    sa.Index("ix_tokens_expires_at", "expires_at"),
    sa.Index("ix_tokens_user_uri", "user_uri"),
)

# One column per ``Application`` field; tuples and ``extra`` are JSON text (see sql/rows.py).
applications = sa.Table(
    "applications",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("user_uri", sa.Text, nullable=False),
    sa.Column("endpoint_id", sa.Text, nullable=False),
    sa.Column("user_agent", sa.Text, nullable=False),
    sa.Column("culture", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("comm_key", sa.Text, nullable=False),
    sa.Column("created_at", Epoch, nullable=False),
    sa.Column("last_request_at", Epoch, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("ended_at", Epoch),
    sa.Column("instance_id", sa.Text),
    sa.Column("available", sa.Boolean, nullable=False),
    sa.Column("supported_modalities", sa.Text, nullable=False),
    sa.Column("supported_message_formats", sa.Text, nullable=False),
    sa.Column("sign_in_as", sa.Text),
    sa.Column("inactive_timeout", sa.Integer, nullable=False),
    sa.Column("last_activity_at", Epoch),
    sa.Column("lowest_batch", sa.Integer, nullable=False),
    sa.Column("next_batch", sa.Integer, nullable=False),
    sa.Column("ch_timeout", sa.Integer, nullable=False),
    sa.Column("ch_low", sa.Integer, nullable=False),
    sa.Column("ch_medium", sa.Integer, nullable=False),
    sa.Column("resume_pending", sa.Boolean, nullable=False),
    sa.Column("pget_owner", sa.Text),
    sa.Column("pget_priority", sa.Integer, nullable=False),
    sa.Column("pget_lease_until", Epoch),
    sa.Column("pget_released_at", Epoch),
    sa.Column("used_channel", sa.Boolean, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("extra", sa.Text, nullable=False),
    sa.Index("ix_applications_user_uri_endpoint_id_status", "user_uri", "endpoint_id", "status"),
    sa.Index("ix_applications_status", "status"),
    sa.Index("ix_applications_user_uri_status_last_request_at", "user_uri", "status", "last_request_at"),
)

# ``position`` is global and never reused (AUTOINCREMENT / sequence), so it orders every queue.
events = sa.Table(
    "events",
    metadata,
    sa.Column("position", Position, primary_key=True, autoincrement=True),
    sa.Column("app_id", sa.Text, nullable=False),
    sa.Column("sender_rel", sa.Text, nullable=False),
    sa.Column("sender_href", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("enqueued_at", Epoch, nullable=False),
    sa.Column("merge_key", sa.Text),
    # A message event's delivery receipt (JSON), turned into the sender's completion when produced.
    sa.Column("receipt", sa.Text),
    # Serves both "WHERE app_id = ?" and "... ORDER BY position".
    sa.Index("ix_events_app_id_position", "app_id", "position"),
    sqlite_autoincrement=True,
)

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("app_id", sa.Text, primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("body", sa.LargeBinary, nullable=False),
)

# What a user published (SPEC §11.5): shared by every application of the user.
presence = sa.Table(
    "presence",
    metadata,
    sa.Column("user_uri", sa.Text, sa.ForeignKey("users.uri", ondelete="CASCADE"), primary_key=True),
    sa.Column("availability", sa.Text),
    sa.Column("activity", sa.Text),
    sa.Column("note", sa.Text),
    sa.Column("location", sa.Text),
    sa.Column("last_active", Epoch),
)

# One row per communication: the lock every action on its views takes first (SPEC §14).
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("created_at", Epoch, nullable=False),
    # When something must happen without a request: an invitation times out, typing expires.
    sa.Column("deadline", Epoch, index=True),
)

# One application's view of a conversation, as a JSON document (core.conversation.ConvView).
conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("app_id", sa.Text, nullable=False, index=True),
    sa.Column("session_id", sa.Text, nullable=False, index=True),
    sa.Column("doc", sa.Text, nullable=False),
)

# Messages of a conversation view; kept after the conversation ends (history).
messages = sa.Table(
    "messages",
    metadata,
    sa.Column("conv_id", sa.Text, primary_key=True),
    sa.Column("n", sa.Integer, primary_key=True),
    sa.Column("direction", sa.Text, nullable=False),
    sa.Column("sender", sa.Text, nullable=False),
    sa.Column("content_type", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
    sa.Column("operation_id", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("failed", sa.Text, nullable=False),
)

# A user's personal contact groups (SPEC §12.5); the pinned and default groups are implicit.
contact_groups = sa.Table(
    "contact_groups",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("owner_uri", sa.Text, sa.ForeignKey("users.uri", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.UniqueConstraint("owner_uri", "name"),
)

# Who is in which of an owner's groups; ``group_id`` is a contact_groups id, "pinned" or "default".
contact_members = sa.Table(
    "contact_members",
    metadata,
    sa.Column("owner_uri", sa.Text, sa.ForeignKey("users.uri", ondelete="CASCADE"), primary_key=True),
    sa.Column("group_id", sa.Text, primary_key=True),
    sa.Column("contact_uri", sa.Text, sa.ForeignKey("users.uri", ondelete="CASCADE"), primary_key=True),
)

# An uploaded JPEG per user (SPEC §11.8); users without one get generated initials.
photos = sa.Table(
    "photos",
    metadata,
    sa.Column("user_uri", sa.Text, sa.ForeignKey("users.uri", ondelete="CASCADE"), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("etag", sa.Text, nullable=False),
)

# Presence subscriptions of an application (SPEC §12.7); transient, they end with it.
presence_subscriptions = sa.Table(
    "presence_subscriptions",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("app_id", sa.Text, nullable=False, index=True),
    sa.Column("expires_at", Epoch, nullable=False, index=True),
    sa.Column("warned", sa.Boolean, nullable=False),
)

# Which users a subscription watches; ``contact_uri`` indexed for the fan-out of a change.
presence_watches = sa.Table(
    "presence_watches",
    metadata,
    sa.Column("sub_id", sa.Text, primary_key=True),
    sa.Column("contact_uri", sa.Text, primary_key=True, index=True),
    sa.Column("app_id", sa.Text, nullable=False, index=True),
)

# Directory groups as UCWA distribution groups; ``id`` is derived from the DN, members flattened.
distribution_groups = sa.Table(
    "distribution_groups",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("dn", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("uri", sa.Text),
    sa.Column("search_key", SearchKey, nullable=False),
    sa.Index("ix_distribution_groups_search_key", "search_key"),
)

distribution_members = sa.Table(
    "distribution_members",
    metadata,
    sa.Column(
        "group_id", sa.Text, sa.ForeignKey("distribution_groups.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "user_uri", sa.Text, sa.ForeignKey("users.uri", ondelete="CASCADE"), primary_key=True, index=True
    ),
)

# What one directory sync pass read of the groups, page by page, before it replaces the two tables
# above in one transaction: the groups and each group's member DNs (lower case), with the group id
# a member DN would have if it is a group. Rows of a pass go when it publishes (or a later one does).
directory_staged_groups = sa.Table(
    "directory_staged_groups",
    metadata,
    sa.Column("sync_pass", sa.BigInteger, primary_key=True),
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("dn", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("uri", sa.Text),
    sa.Column("search_key", SearchKey, nullable=False),
)

directory_staged_members = sa.Table(
    "directory_staged_members",
    metadata,
    sa.Column("sync_pass", sa.BigInteger, primary_key=True),
    sa.Column("group_id", sa.Text, primary_key=True),
    sa.Column("member_key", sa.Text, primary_key=True),
    sa.Column("child_id", sa.Text, nullable=False),
)

# Small shared facts between nodes: counters (the revocation epoch every node's token cache checks)
# and leases (which node runs the directory sync).
coordination = sa.Table(
    "coordination",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
    sa.Column("owner", sa.Text),
    sa.Column("until", Epoch),
)
