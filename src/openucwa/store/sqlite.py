"""SQLite: one file, one connection, one writer at a time.

SQLite allows a single writer, so instead of letting transactions collide ("database is locked")
the store runs them one after another behind an asyncio.Lock over a single pooled connection.
``BEGIN IMMEDIATE`` takes the write lock up front, so a second process (e.g. the CLI) waits on
busy_timeout instead of failing on a read-to-write upgrade, and reads inside a transaction are
repeatable (the sqlite3 module's legacy mode would run them outside any transaction).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from .sql import SqlStore

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)


def _on_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
    cursor = dbapi_conn.cursor()
    try:
        for pragma in _PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _on_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _prepare_parent(path: str) -> Path:
    file = Path(path).expanduser()
    file.parent.mkdir(parents=True, exist_ok=True)
    return file


async def open_sqlite(path: str) -> SqlStore:
    """Opens (creating if needed) the database file; the caller runs ``migrate()``."""
    if not path or path == ":memory:":
        raise ValueError("SQLite store needs a file path")
    file = await asyncio.to_thread(_prepare_parent, path)
    url = sa.URL.create("sqlite+aiosqlite", database=str(file))
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    sa.event.listen(engine.sync_engine, "connect", _on_connect)
    sa.event.listen(engine.sync_engine, "begin", _on_begin)
    return SqlStore(engine, lock=asyncio.Lock())
