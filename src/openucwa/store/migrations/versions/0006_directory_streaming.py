"""Directory sync in bounded memory: users' lower-cased DN and last sync pass, staged groups.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SearchKey = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("dn_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("sync_pass", sa.BigInteger(), nullable=True))
        batch.create_index("ix_users_dn_key", ["dn_key"])
    # Lower-cased here as the store does (str.lower), not by SQL lower(), which is ASCII-only on SQLite.
    bind = op.get_bind()
    users = sa.table(
        "users", sa.column("uri", sa.Text), sa.column("dn", sa.Text), sa.column("dn_key", sa.Text)
    )
    for uri, dn in bind.execute(sa.select(users.c.uri, users.c.dn).where(users.c.dn.is_not(None))).all():
        bind.execute(users.update().where(users.c.uri == uri).values(dn_key=dn.lower()))
    op.create_table(
        "directory_staged_groups",
        sa.Column("sync_pass", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("dn", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.Column("search_key", SearchKey, nullable=False),
        sa.PrimaryKeyConstraint("sync_pass", "id", name="pk_directory_staged_groups"),
    )
    op.create_table(
        "directory_staged_members",
        sa.Column("sync_pass", sa.BigInteger(), nullable=False),
        sa.Column("group_id", sa.Text(), nullable=False),
        sa.Column("member_key", sa.Text(), nullable=False),
        sa.Column("child_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("sync_pass", "group_id", "member_key", name="pk_directory_staged_members"),
    )


def downgrade() -> None:
    op.drop_table("directory_staged_members")
    op.drop_table("directory_staged_groups")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_dn_key")
        batch.drop_column("sync_pass")
        batch.drop_column("dn_key")
