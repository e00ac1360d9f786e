"""SQLite: one file, one connection, one writer at a time.

SQLite allows a single writer, so instead of letting transactions collide ("database is locked")
the store runs them one after another behind an asyncio.Lock over a single pooled connection.
``BEGIN IMMEDIATE`` takes the write lock up front, so a second process (e.g. the CLI) waits on
busy_timeout instead of failing on a read-to-write upgrade, and reads inside a transaction are
repeatable (the sqlite3 module's legacy mode would run them outside any transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from .sql import SqlStore, SqlTx, upgrade

T = TypeVar("T")

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


class _OnLoop:
    """The part of AsyncConnection that SqlTx uses, over a sync connection on the event loop.

    SQLite runs in-process: a statement on a small WAL database takes tens of microseconds, while
    handing each one to a worker thread (aiosqlite) cost about half a millisecond of hops and made
    the database the bottleneck of every message. Transactions are already serialised by the
    store's lock, so running them on the loop loses no concurrency.
    """

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        if parameters is None:
            return self._conn.execute(statement)
        return self._conn.execute(statement, parameters)

    @contextlib.asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        with self._conn.begin_nested():
            yield


class SqliteStore(SqlStore):
    """One file, one connection kept open, one transaction at a time."""

    def __init__(self, engine: sa.Engine) -> None:
        self.sync_engine = engine
        self._lock = asyncio.Lock()
        self._conn: sa.Connection | None = None

    def _connection(self) -> sa.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self.sync_engine.connect()
        return self._conn

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTx]:
        async with self._lock:
            conn = self._connection()
            with conn.begin():
                yield SqlTx(_OnLoop(conn))  # type: ignore[arg-type]

    async def migrate(self) -> None:
        async with self._lock:
            with self._connection().begin() as tx:
                upgrade(tx.connection)

    async def run_sync(self, fn: Callable[[sa.Connection], T]) -> T:
        async with self._lock:
            conn = self._connection()
            with conn.begin():
                return fn(conn)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.sync_engine.dispose()


async def open_sqlite(path: str) -> SqlStore:
    """Opens (creating if needed) the database file; the caller runs ``migrate()``."""
    if not path or path == ":memory:":
        raise ValueError("SQLite store needs a file path")
    file = await asyncio.to_thread(_prepare_parent, path)
    engine = sa.create_engine(sa.URL.create("sqlite", database=str(file)), poolclass=sa.pool.StaticPool)
    sa.event.listen(engine, "connect", _on_connect)
    sa.event.listen(engine, "begin", _on_begin)
    return SqliteStore(engine)
