"""Application indexes for users with thousands of applications.

The per-user limit counts and evicts from (user_uri, status, last_request_at); finding an endpoint's
active application gets status in its index too, so SQLite's planner keeps choosing that one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_applications_user_uri_endpoint_id", table_name="applications")
    op.create_index(
        "ix_applications_user_uri_endpoint_id_status", "applications", ["user_uri", "endpoint_id", "status"]
    )
    op.create_index(
        "ix_applications_user_uri_status_last_request_at",
        "applications",
        ["user_uri", "status", "last_request_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_applications_user_uri_status_last_request_at", table_name="applications")
    op.drop_index("ix_applications_user_uri_endpoint_id_status", table_name="applications")
    op.create_index("ix_applications_user_uri_endpoint_id", "applications", ["user_uri", "endpoint_id"])
