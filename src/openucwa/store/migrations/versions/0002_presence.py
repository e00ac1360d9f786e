"""Published presence, note and location per user.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "presence",
        sa.Column("user_uri", sa.Text(), nullable=False),
        sa.Column("availability", sa.Text(), nullable=True),
        sa.Column("activity", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("last_active", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_uri"], ["users.uri"], name="fk_presence_user_uri_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_uri", name="pk_presence"),
    )


def downgrade() -> None:
    op.drop_table("presence")
