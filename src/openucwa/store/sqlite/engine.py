"""Opening the database file: the pragmas every connection gets and the ``BEGIN IMMEDIATE`` it uses."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..sql import SqlStore
from .files import hold_shared
from .store import SqliteStore

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    # Never wait inside SQLite for a lock another process holds: that wait would block the event
    # loop, and every request with it. Units retry BEGIN asynchronously instead (SqliteStore.begin).
    "PRAGMA busy_timeout=0",
    "PRAGMA foreign_keys=ON",
    # SQLite copies the WAL back into the file (and syncs it) inside whichever COMMIT crosses this
    # many pages. Hot pages (queues, application rows) are rewritten constantly, so a checkpoint
    # every 10,000 pages copies little more than one every 1,000 (the default) at a tenth of the
    # syncs: on the IM path the average COMMIT went from ≈150 to ≈100 µs and the one-pair p99 from
    # ≈6 ms to ≈2 ms. The WAL may grow to ≈40 MB between checkpoints.
    "PRAGMA wal_autocheckpoint=10000",
    # A checkpoint leaves the -wal file at its largest size unless told otherwise: a burst of big
    # messages would keep it that large for good. Truncate it back to 64 MB after each one.
    "PRAGMA journal_size_limit=67108864",
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
    """Transactions SQLAlchemy begins (migrations at start-up, ``run_sync``) may wait a while."""
    raw = conn.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:  # SqliteStore.transaction may have begun it
        raw.execute("PRAGMA busy_timeout=5000")
        try:
            raw.execute("BEGIN IMMEDIATE")
        finally:
            raw.execute("PRAGMA busy_timeout=0")


def _prepare_parent(path: str) -> Path:
    file = Path(path).expanduser()
    file.parent.mkdir(parents=True, exist_ok=True)
    return file


async def open_sqlite(path: str) -> SqlStore:
    """Opens (creating if needed) the database file; the caller runs ``migrate()``."""
    if not path or path == ":memory:":
        raise ValueError("SQLite store needs a file path")
    file = await asyncio.to_thread(_prepare_parent, path)
    occupancy = hold_shared(file)  # a restore waits for every holder to go (files.py)
    engine = sa.create_engine(sa.URL.create("sqlite", database=str(file)), poolclass=sa.pool.StaticPool)
    sa.event.listen(engine, "connect", _on_connect)
    sa.event.listen(engine, "begin", _on_begin)
    return SqliteStore(engine, occupancy=occupancy)
