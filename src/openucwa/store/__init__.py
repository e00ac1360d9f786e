"""Opens the configured store: SQLite in the data dir by default, PostgreSQL for scale-out."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from .interface import DuplicateError, Store, Tx
from .postgres import open_postgres
from .sql import SqlStore
from .sqlite import open_sqlite

__all__ = ["DuplicateError", "SqlStore", "Store", "Tx", "open_store"]


async def open_store(database_url: str | None, data_dir: str) -> SqlStore:
    """Returns a migrated store; ``sqlite:///rel/path`` and ``sqlite:////abs/path`` both work."""
    if database_url is None:
        store = await open_sqlite(str(Path(data_dir) / "openucwa.sqlite3"))
    elif database_url.startswith(("postgres://", "postgresql://", "postgresql+asyncpg://")):
        store = await open_postgres(database_url)
    elif database_url.startswith(("sqlite://", "sqlite+aiosqlite://")):
        store = await open_sqlite(sa.make_url(database_url).database or "")
    else:
        raise ValueError(f"unsupported database URL scheme: {database_url.split(':', 1)[0]}")
    try:
        await store.migrate()
    except BaseException:
        await store.close()
        raise
    return store
