"""People: search key on users, contact groups, photos, presence subscriptions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column(
                "search_key", sa.Text().with_variant(sa.Text(collation="C"), "postgresql"), nullable=True
            )
        )
    # Same recipe as store.sql.search_key, so existing users are found at once.
    op.execute(
        "UPDATE users SET search_key = lower(name || char(10) || 'sip:' || uri || char(10) || "
        "coalesce(email, '') || char(10) || coalesce(work_phone, ''))"
        if op.get_bind().dialect.name == "sqlite"
        else "UPDATE users SET search_key = lower(name || chr(10) || 'sip:' || uri || chr(10) || "
        "coalesce(email, '') || chr(10) || coalesce(work_phone, ''))"
    )
    op.create_index("ix_users_search_key", "users", ["search_key"])
    op.create_index("ix_users_email", "users", ["email"])
    op.create_table(
        "contact_groups",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("owner_uri", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_uri"], ["users.uri"], name="fk_contact_groups_owner_uri_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_contact_groups"),
        sa.UniqueConstraint("owner_uri", "name", name="uq_contact_groups_owner_uri_name"),
    )
    op.create_table(
        "contact_members",
        sa.Column("owner_uri", sa.Text(), nullable=False),
        sa.Column("group_id", sa.Text(), nullable=False),
        sa.Column("contact_uri", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_uri"], ["users.uri"], name="fk_contact_members_owner_uri_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["contact_uri"], ["users.uri"], name="fk_contact_members_contact_uri_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("owner_uri", "group_id", "contact_uri", name="pk_contact_members"),
    )
    op.create_table(
        "photos",
        sa.Column("user_uri", sa.Text(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_uri"], ["users.uri"], name="fk_photos_user_uri_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_uri", name="pk_photos"),
    )
    op.create_table(
        "presence_subscriptions",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("app_id", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("warned", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_presence_subscriptions"),
    )
    op.create_index("ix_presence_subscriptions_app_id", "presence_subscriptions", ["app_id"])
    op.create_index("ix_presence_subscriptions_expires_at", "presence_subscriptions", ["expires_at"])
    op.create_table(
        "presence_watches",
        sa.Column("sub_id", sa.Text(), nullable=False),
        sa.Column("contact_uri", sa.Text(), nullable=False),
        sa.Column("app_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("sub_id", "contact_uri", name="pk_presence_watches"),
    )
    op.create_index("ix_presence_watches_contact_uri", "presence_watches", ["contact_uri"])
    op.create_index("ix_presence_watches_app_id", "presence_watches", ["app_id"])


def downgrade() -> None:
    op.drop_table("presence_watches")
    op.drop_table("presence_subscriptions")
    op.drop_table("photos")
    op.drop_table("contact_members")
    op.drop_table("contact_groups")
    op.drop_index("ix_users_email", "users")
    op.drop_index("ix_users_search_key", "users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("search_key")
