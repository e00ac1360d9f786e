"""``SqliteStore``: units of work run one after another on one connection, sharing COMMITs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa

from ...core import errors
from ...core.errors import UcwaError
from ..interface import Activity, SchemaStatus
from ..sql import SqlStore, SqlTx, upgrade
from ..sql.ops import ACTIVITY_SQL, VERSION_TABLE, head_revision
from .cache import AppCache
from .tx import OnLoop, SqliteTx

T = TypeVar("T")


class SqliteStore(SqlStore):
    """One file, one connection kept open, one writer at a time, commits shared under load.

    Group commit: SQLite work never suspends, so units of work run back to back on the event loop.
    A unit that ends leaves the transaction open and waits for a COMMIT scheduled for the next turn
    of the loop; the units that run before it (requests that arrived together) join the same
    transaction, and one COMMIT (about 50 µs of WAL writes here, the largest single cost of a busy
    transaction) serves them all. Each unit is a savepoint, so a failing one still undoes only
    itself, and no unit returns before the COMMIT that holds its work: wakes and HTTP responses
    come after it. BEGIN/COMMIT go straight to sqlite3 (SQLAlchemy's bookkeeping around them cost
    as much as the commit); a statement run through SQLAlchemy joins the open transaction (see
    ``engine._on_begin``) and SQLAlchemy then ends it, so both agree on its state.
    """

    _lock: asyncio.Lock  # always present here: one writer, so every unit takes it
    # A shared transaction that has held this much work (seconds since BEGIN) commits when its
    # current unit ends rather than take in more: when thousands of P-GETs wake at once, their
    # answers go out a COMMIT at a time instead of all after the last one.
    group_budget = 0.1

    def __init__(self, engine: sa.Engine, *, occupancy: int | None = None) -> None:
        self.sync_engine = engine
        self._occupancy = occupancy  # fd of the shared lock saying the file is in use (files.py)
        self._lock = asyncio.Lock()
        self._conn: sa.Connection | None = None
        self._waiting: list[asyncio.Future[None]] = []  # units whose work the open one holds
        self._commit_soon: asyncio.Handle | None = None
        self._opened_at = 0.0  # loop time of the open transaction's BEGIN
        self.commits = 0  # how many COMMITs (the group-commit test counts them)
        self._apps = AppCache()
        self._data_version: int | None = None
        self.busy_budget = 2.0  # seconds a unit may wait for another process's write lock

    async def begin(self, raw: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, retried without blocking the loop while another process (the CLI, a
        backup, an operator's sqlite3 shell) holds the write lock; past ``busy_budget`` seconds
        the request is answered 503 with Retry-After rather than kept waiting."""
        delay, waited = 0.002, 0.0
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if waited >= self.busy_budget:
                    raise UcwaError(
                        errors.SERVICE_UNAVAILABLE,
                        "The database is busy with another process; try again shortly.",
                        headers={"Retry-After": "1"},
                    ) from exc
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.1)

    def _connection(self) -> sa.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self.sync_engine.connect()
        return self._conn

    def _raw(self) -> sqlite3.Connection:
        raw = self._connection().connection.dbapi_connection
        assert isinstance(raw, sqlite3.Connection)
        return raw

    def _schedule_commit(self) -> None:
        if self._commit_soon is None:
            self._commit_soon = asyncio.get_running_loop().call_soon(self._commit_if_free)

    def _commit_if_free(self) -> None:
        self._commit_soon = None
        if not self._lock.locked():  # else the unit holding it schedules again when it ends
            self._commit()

    def _commit(self) -> None:
        """Ends the open transaction (if any) and tells every unit in it how it went."""
        waiting, self._waiting = self._waiting, []
        conn, raw = self._connection(), self._raw()
        try:
            if conn.in_transaction():
                conn.commit()
                self.commits += 1
            elif raw.in_transaction:
                raw.commit()
                self.commits += 1
        except BaseException as exc:
            self._rollback_all()
            _tell(waiting, exc)
            return
        _tell(waiting, None)

    def _rollback_all(self) -> None:
        self._apps.clear()
        conn, raw = self._connection(), self._raw()
        if conn.in_transaction():
            conn.rollback()
        if raw.in_transaction:
            raw.rollback()

    def _undo_unit(self, why: BaseException, savepoint: bool) -> None:
        raw = self._raw()
        if not savepoint:  # the transaction held this unit alone: end it
            self._rollback_all()
            return
        if raw.in_transaction:
            try:
                raw.execute("ROLLBACK TO unit")
                raw.execute("RELEASE unit")
                return
            except sqlite3.Error:
                pass
        # SQLite rolled the whole transaction back (it does on some errors): every unit in it lost
        # its work, and those waiting for the COMMIT must hear so.
        waiting, self._waiting = self._waiting, []
        self._rollback_all()
        _tell(waiting, sa.exc.OperationalError("COMMIT", None, why))

    def transaction(self) -> contextlib.AbstractAsyncContextManager[SqlTx]:  # type: ignore[override]  # same contract, a class not a generator
        return _Unit(self)

    def _flush(self) -> None:
        """Commits now what is open and forgets cached rows (the caller holds the lock and is
        about to use the connection through SQLAlchemy)."""
        if self._raw().in_transaction or self._waiting:
            self._commit()
        self._apps.clear()

    async def migrate(self) -> None:
        async with self._lock:
            self._flush()
            with self._connection().begin() as tx:
                upgrade(tx.connection)

    async def schema_status(self) -> SchemaStatus:
        """A plain read on our connection: no BEGIN IMMEDIATE, so another process holding the write
        lock does not hold this up (WAL readers do not wait for writers)."""
        async with self._lock:
            raw = self._raw()
            found = raw.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSION_TABLE,)
            ).fetchone()
            row = raw.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone() if found else None
        return SchemaStatus(current=row[0] if row else None, head=head_revision())

    async def activity(self) -> Activity:
        """Like ``schema_status``: a plain read, never waiting for another process's write lock."""
        async with self._lock:
            apps, convs = self._raw().execute(ACTIVITY_SQL).fetchone()
        return Activity(applications=int(apps), conversations=int(convs))

    async def run_sync(self, fn: Callable[[sa.Connection], T]) -> T:
        async with self._lock:
            self._flush()
            conn = self._connection()
            with conn.begin():
                return fn(conn)

    async def close(self) -> None:
        if self._conn is not None:
            async with self._lock:
                self._flush()
            self._conn.close()
            self._conn = None
        self.sync_engine.dispose()
        if self._occupancy is not None:
            os.close(self._occupancy)
            self._occupancy = None


def _tell(waiting: list[asyncio.Future[None]], failure: BaseException | None) -> None:
    for w in waiting:
        if not w.done():
            if failure is None:
                w.set_result(None)
            else:
                w.set_exception(failure)


class _Unit:
    """One unit of work in the store's shared transaction (see SqliteStore).

    A class rather than a generator-based context manager: every request runs one or two of these,
    and the generator machinery cost more than the savepoint. The unit that begins the transaction
    needs no savepoint: until it ends, the transaction holds nothing else.
    """

    __slots__ = ("_savepoint", "_store")

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._savepoint = False

    async def __aenter__(self) -> SqlTx:
        s = self._store
        await s._lock.acquire()
        try:
            raw = s._raw()
            if raw.in_transaction:
                raw.execute("SAVEPOINT unit")
                self._savepoint = True
            else:
                await s.begin(raw)
                s._opened_at = asyncio.get_running_loop().time()
                seen = raw.execute("PRAGMA data_version").fetchone()[0]
                if seen != s._data_version:  # another connection committed: forget its rows
                    s._apps.clear()
                    s._data_version = seen
            s._apps.begin_unit()
            return SqliteTx(OnLoop(s._connection(), s._apps.clear), raw, s._apps)
        except BaseException:
            s._lock.release()
            raise

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        s = self._store
        committed: asyncio.Future[None] | None = None
        try:
            if exc is None:
                if self._savepoint:
                    s._raw().execute("RELEASE unit")
                s._apps.end_unit()
                # Its own future, so that a unit cancelled while waiting cancels nobody else's wait.
                loop = asyncio.get_running_loop()
                committed = loop.create_future()
                s._waiting.append(committed)
                if loop.time() - s._opened_at >= s.group_budget:
                    s._commit()  # the lock is still ours: nothing else is in the transaction now
            else:
                s._apps.rollback_unit()
                s._undo_unit(exc, self._savepoint)
        finally:
            s._schedule_commit()
            s._lock.release()
        if committed is not None:
            await committed
