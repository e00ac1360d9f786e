"""Alembic environment, driven by ``SqlStore.migrate()`` rather than the alembic CLI.

The store hands over its own (sync-adapted) connection in ``config.attributes["connection"]`` so
migrations run inside the store's transaction, on the same pooled connection and PRAGMAs.
Offline mode (``--sql``) renders scripts from ``sqlalchemy.url`` for operators who apply DDL by hand.
"""

from __future__ import annotations

from alembic import context

from openucwa.store.schema import metadata

config = context.config


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through SqlStore.migrate(), which supplies the connection")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
