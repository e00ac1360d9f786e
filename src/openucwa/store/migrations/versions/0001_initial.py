"""Initial schema: users, tokens, applications, events, batches.

Written out in full rather than imported from ``schema.py``: a revision must keep creating what
it created even after ``schema.py`` moves on.

Revision ID: 0001
Revises:
Create Date: 2024-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("company", sa.Text(), nullable=True),
        sa.Column("office", sa.Text(), nullable=True),
        sa.Column("work_phone", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("uri", name="pk_users"),
    )
    op.create_table(
        "tokens",
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("user_uri", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_uri"], ["users.uri"], name="fk_tokens_user_uri_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name="pk_tokens"),
    )
    op.create_index("ix_tokens_expires_at", "tokens", ["expires_at"])
    op.create_table(
        "applications",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("user_uri", sa.Text(), nullable=False),
        sa.Column("endpoint_id", sa.Text(), nullable=False),
        sa.Column("user_agent", sa.Text(), nullable=False),
        sa.Column("culture", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("comm_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("last_request_at", sa.Double(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("ended_at", sa.Double(), nullable=True),
        sa.Column("instance_id", sa.Text(), nullable=True),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("supported_modalities", sa.Text(), nullable=False),
        sa.Column("supported_message_formats", sa.Text(), nullable=False),
        sa.Column("sign_in_as", sa.Text(), nullable=True),
        sa.Column("inactive_timeout", sa.Integer(), nullable=False),
        sa.Column("last_activity_at", sa.Double(), nullable=True),
        sa.Column("lowest_batch", sa.Integer(), nullable=False),
        sa.Column("next_batch", sa.Integer(), nullable=False),
        sa.Column("ch_timeout", sa.Integer(), nullable=False),
        sa.Column("ch_low", sa.Integer(), nullable=False),
        sa.Column("ch_medium", sa.Integer(), nullable=False),
        sa.Column("resume_pending", sa.Boolean(), nullable=False),
        sa.Column("pget_owner", sa.Text(), nullable=True),
        sa.Column("pget_priority", sa.Integer(), nullable=False),
        sa.Column("pget_lease_until", sa.Double(), nullable=True),
        sa.Column("pget_released_at", sa.Double(), nullable=True),
        sa.Column("used_channel", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("extra", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_applications"),
    )
    op.create_index("ix_applications_user_uri_endpoint_id", "applications", ["user_uri", "endpoint_id"])
    op.create_index("ix_applications_status", "applications", ["status"])
    op.create_table(
        "events",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("app_id", sa.Text(), nullable=False),
        sa.Column("sender_rel", sa.Text(), nullable=False),
        sa.Column("sender_href", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("enqueued_at", sa.Double(), nullable=False),
        sa.Column("merge_key", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("position", name="pk_events"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_app_id_position", "events", ["app_id", "position"])
    op.create_table(
        "batches",
        sa.Column("app_id", sa.Text(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "number", name="pk_batches"),
    )


def downgrade() -> None:
    op.drop_table("batches")
    op.drop_index("ix_events_app_id_position", table_name="events")
    op.drop_table("events")
    op.drop_index("ix_applications_status", table_name="applications")
    op.drop_index("ix_applications_user_uri_endpoint_id", table_name="applications")
    op.drop_table("applications")
    op.drop_index("ix_tokens_expires_at", table_name="tokens")
    op.drop_table("tokens")
    op.drop_table("users")
