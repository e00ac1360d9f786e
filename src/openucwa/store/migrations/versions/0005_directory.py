"""Directory accounts: account ids and generations, token binding, distribution groups, coordination.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 00:00:00
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SearchKey = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("id", sa.Text(), nullable=True))
        batch.add_column(sa.Column("generation", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("source", sa.Text(), nullable=False, server_default="local"))
        batch.add_column(sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("dn", sa.Text(), nullable=True))
        batch.add_column(sa.Column("upn", sa.Text(), nullable=True))
        batch.add_column(sa.Column("login", sa.Text(), nullable=True))
    bind = op.get_bind()
    users = sa.table("users", sa.column("uri", sa.Text), sa.column("id", sa.Text))
    for (uri,) in bind.execute(sa.select(users.c.uri)).all():
        bind.execute(users.update().where(users.c.uri == uri).values(id=uuid.uuid4().hex))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("id", existing_type=sa.Text(), nullable=False)
        batch.create_index("ix_users_id", ["id"], unique=True)
        batch.create_index("ix_users_source", ["source"])
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("account_id", sa.Text(), nullable=True))
        batch.add_column(sa.Column("generation", sa.Integer(), nullable=True))
        batch.create_index("ix_tokens_user_uri", ["user_uri"])
    # Tokens issued before keep working: bind them to their user's (new) account id.
    op.execute(
        "UPDATE tokens SET generation = 0,"
        " account_id = (SELECT id FROM users WHERE users.uri = tokens.user_uri)"
    )
    op.create_table(
        "distribution_groups",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("dn", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.Column("search_key", SearchKey, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_distribution_groups"),
    )
    op.create_index("ix_distribution_groups_search_key", "distribution_groups", ["search_key"])
    op.create_table(
        "distribution_members",
        sa.Column("group_id", sa.Text(), nullable=False),
        sa.Column("user_uri", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["distribution_groups.id"],
            name="fk_distribution_members_group_id_distribution_groups",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_uri"], ["users.uri"], name="fk_distribution_members_user_uri_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("group_id", "user_uri", name="pk_distribution_members"),
    )
    op.create_index("ix_distribution_members_user_uri", "distribution_members", ["user_uri"])
    op.create_table(
        "coordination",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("until", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_coordination"),
    )


def downgrade() -> None:
    op.drop_table("coordination")
    op.drop_table("distribution_members")
    op.drop_table("distribution_groups")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_index("ix_tokens_user_uri")
        batch.drop_column("generation")
        batch.drop_column("account_id")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_source")
        batch.drop_index("ix_users_id")
        for name in ("login", "upn", "dn", "disabled", "source", "generation", "id"):
            batch.drop_column(name)
