"""SQLite: one file, one connection, one writer at a time.

SQLite allows a single writer, so instead of letting transactions collide ("database is locked")
the store runs them one after another behind an asyncio.Lock over a single pooled connection, and
lets those that run together share a COMMIT (``SqliteStore``). ``BEGIN IMMEDIATE`` takes the write
lock up front, so a second process (e.g. the CLI) waits on busy_timeout instead of failing on a
read-to-write upgrade, and reads inside a transaction are repeatable (the sqlite3 module's legacy
mode would run them outside any transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from ..core.events import Event, StoredEvent
from ..core.models import Application
from .sql import SqlStore, SqlTx, app_field_value, upgrade

T = TypeVar("T")

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
    # SQLite copies the WAL back into the file (and syncs it) inside whichever COMMIT crosses this
    # many pages. Hot pages (queues, application rows) are rewritten constantly, so a checkpoint
    # every 10,000 pages copies little more than one every 1,000 (the default) at a tenth of the
    # syncs: on the IM path the average COMMIT went from ≈150 to ≈100 µs and the one-pair p99 from
    # ≈6 ms to ≈2 ms. The WAL may grow to ≈40 MB between checkpoints.
    "PRAGMA wal_autocheckpoint=10000",
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
    raw = conn.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:  # SqliteStore.transaction may have begun it
        raw.execute("BEGIN IMMEDIATE")


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

    def __init__(self, conn: sa.Connection, on_write: Callable[[], None]) -> None:
        self._conn = conn
        self._on_write = on_write

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        if not isinstance(statement, sa.Select):
            self._on_write()  # it may touch applications behind the cache's back
        if parameters is None:
            return self._conn.execute(statement)
        return self._conn.execute(statement, parameters)


_DIALECT = sqlite.dialect(paramstyle="named")
_Processor = Callable[[Any], Any] | None
# (statement, parameter names) -> (sql, constant parameters, column names, result processors)
_Compiled = tuple[str, dict[str, Any], tuple[str, ...], tuple[_Processor, ...]]
_COMPILED: dict[tuple[sa.Executable, tuple[str, ...]], _Compiled] = {}


def _compile(stmt: sa.Executable, keys: tuple[str, ...]) -> _Compiled:
    compiled = cast(sa.ClauseElement, stmt).compile(dialect=_DIALECT, column_keys=list(keys))
    constants = {k: v for k, v in compiled.params.items() if k not in keys and v is not None}
    columns = compiled._result_columns or []  # the names and types SQLAlchemy itself would use
    names = tuple(c.keyname for c in columns)
    procs = tuple(c.type._cached_result_processor(_DIALECT, None) for c in columns)
    entry = _COMPILED[(stmt, keys)] = (str(compiled), constants, names, procs)
    return entry


class _Rows:
    """The slice of SQLAlchemy's Result that SqlTx reads, over a plain sqlite3 cursor."""

    def __init__(self, cursor: sqlite3.Cursor, names: tuple[str, ...], procs: tuple[_Processor, ...]) -> None:
        self._cursor = cursor
        self._names = names
        self._procs = procs if any(procs) else None
        self.rowcount = cursor.rowcount

    def _convert(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        if self._procs is None:
            return row
        return tuple(v if f is None or v is None else f(v) for f, v in zip(self._procs, row, strict=True))

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return (self._convert(r) for r in self._cursor)

    def all(self) -> list[tuple[Any, ...]]:
        return list(self)

    def first(self) -> tuple[Any, ...] | None:
        row = self._cursor.fetchone()
        self._cursor.close()  # the rest is not wanted; a statement left mid-way blocks COMMIT
        return None if row is None else self._convert(row)

    def scalar_one_or_none(self) -> Any:
        row = self.first()
        return None if row is None else row[0]

    def scalars(self) -> list[Any]:
        return [r[0] for r in self]

    def mappings(self) -> _Mappings:
        return _Mappings(self)


class _Mappings:
    def __init__(self, rows: _Rows) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[dict[str, Any]]:
        names = self._rows._names
        return (dict(zip(names, r, strict=True)) for r in self._rows)

    def first(self) -> dict[str, Any] | None:
        row = self._rows.first()
        return None if row is None else dict(zip(self._rows._names, row, strict=True))


_APP_FIELDS = tuple(f.name for f in dataclasses.fields(Application))
_set = object.__setattr__


def _changed(app: Application, values: Mapping[str, Any]) -> Application:
    """``dataclasses.replace`` at half the cost (it runs several times per message)."""
    new = object.__new__(Application)
    for name in _APP_FIELDS:
        _set(new, name, values[name] if name in values else getattr(app, name))
    return new


class _AppCache:
    """Applications as last read or written on this connection, so a unit need not reload them.

    Loading the application row (about thirty columns, three of them JSON) starts every P-GET
    round and almost every action: a tenth of the server's work per message. The cache stays
    right because it sees every change: the hot statements update it; any other write on this
    connection empties it; another process committing (the CLI) changes ``PRAGMA data_version``,
    which empties it at the next BEGIN; a unit that rolls back restores what it touched, and a
    transaction that fails whole empties it.

    ``drained`` holds the applications whose event queue is known to be empty: a re-armed P-GET
    then skips reading it (two of the five P-GET rounds per message). Forgotten on any doubt.
    """

    def __init__(self) -> None:
        self.apps: dict[str, Application] = {}
        self.drained: set[str] = set()
        self._undo: dict[str, Application | None] | None = None

    def begin_unit(self) -> None:
        self._undo = {}

    def end_unit(self) -> None:
        self._undo = None

    def rollback_unit(self) -> None:
        for app_id, before in (self._undo or {}).items():
            if before is None:
                self.apps.pop(app_id, None)
            else:
                self.apps[app_id] = before
        self._undo = None
        self.drained.clear()  # what the unit consumed is queued again

    def put(self, app: Application) -> None:
        if self._undo is not None and app.id not in self._undo:
            self._undo[app.id] = self.apps.get(app.id)
        self.apps[app.id] = app

    def clear(self) -> None:
        # What the unit touched keeps its undo entry: rolling back restores the state it began with.
        self.apps.clear()
        self.drained.clear()


class SqliteTx(SqlTx):
    """Runs the prepared statements straight on the sqlite3 connection, compiled once each.

    SQLAlchemy's per-execution work (cache key, execution context, result metadata) cost about ten
    times what SQLite itself spends on these one-row statements; they are the hot path of every
    message and P-GET, so they skip it. Everything else still goes through SQLAlchemy.
    """

    def __init__(self, conn: _OnLoop, raw: sqlite3.Connection, apps: _AppCache) -> None:
        super().__init__(conn)  # type: ignore[arg-type]  # _OnLoop offers the AsyncConnection calls SqlTx makes
        self._raw = raw
        self._apps = apps
        self._read: dict[str, set[int]] = {}  # positions queued_events returned, per application

    async def get_application(self, app_id: str, *, for_update: bool = False) -> Application | None:
        app = self._apps.apps.get(app_id)
        if app is None:
            app = await super().get_application(app_id, for_update=for_update)
            if app is not None:
                self._apps.put(app)
        return app

    async def update_application(self, app_id: str, **fields: Any) -> None:
        await super().update_application(app_id, **fields)
        cached = self._apps.apps.get(app_id)
        if cached is not None and fields:
            values = {k: app_field_value(k, v) for k, v in fields.items()}
            self._apps.put(_changed(cached, values))

    async def bump_version(self, app_id: str) -> int:
        version = await super().bump_version(app_id)
        cached = self._apps.apps.get(app_id)
        if cached is not None:
            self._apps.put(_changed(cached, {"version": version}))
        return version

    async def queued_events(self, app_id: str) -> list[StoredEvent]:
        if app_id in self._apps.drained:
            return []
        queued = await super().queued_events(app_id)
        if queued:
            self._read[app_id] = {e.position for e in queued}
        else:
            self._apps.drained.add(app_id)
        return queued

    async def append_events(self, app_id: str, events: Sequence[Event], now: float) -> int:
        version = await super().append_events(app_id, events, now)
        if events:
            self._apps.drained.discard(app_id)
            self._read.pop(app_id, None)
        return version

    async def store_batch(self, app_id: str, number: int, body: bytes, positions: Sequence[int]) -> None:
        await super().store_batch(app_id, number, body, positions)
        read = self._read.pop(app_id, None)
        if read is not None and read.issubset(positions):  # consumed all this unit saw queued
            self._apps.drained.add(app_id)

    async def _run(self, stmt: sa.Executable, params: Any = None) -> Any:
        many = isinstance(params, list)
        first: Mapping[str, Any] = (params[0] if params else {}) if many else (params or {})
        keys = tuple(first)
        entry = _COMPILED.get((stmt, keys)) or _compile(stmt, keys)
        sql, constants, names, procs = entry
        try:
            if many:
                rows = [{**constants, **p} for p in params] if constants else params
                return _Rows(self._raw.executemany(sql, rows), names, procs)
            return _Rows(self._raw.execute(sql, {**constants, **first} if constants else first), names, procs)
        except sqlite3.Error as exc:  # the same exceptions SQLAlchemy would raise
            raise sa.exc.DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc

    def _clash_guard(self) -> contextlib.AbstractAsyncContextManager[Any]:
        # SQLite undoes just the failed statement: the transaction carries on without a savepoint.
        return contextlib.nullcontext()


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
    ``_on_begin``) and SQLAlchemy then ends it, so both agree on its state.
    """

    _lock: asyncio.Lock  # always present here: one writer, so every unit takes it

    def __init__(self, engine: sa.Engine) -> None:
        self.sync_engine = engine
        self._lock = asyncio.Lock()
        self._conn: sa.Connection | None = None
        self._waiting: list[asyncio.Future[None]] = []  # units whose work the open one holds
        self._commit_soon: asyncio.Handle | None = None
        self.commits = 0  # how many COMMITs (the group-commit test counts them)
        self._apps = _AppCache()
        self._data_version: int | None = None

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
                raw.execute("BEGIN IMMEDIATE")
                seen = raw.execute("PRAGMA data_version").fetchone()[0]
                if seen != s._data_version:  # another connection committed: forget its rows
                    s._apps.clear()
                    s._data_version = seen
            s._apps.begin_unit()
            return SqliteTx(_OnLoop(s._connection(), s._apps.clear), raw, s._apps)
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
                committed = asyncio.get_running_loop().create_future()
                s._waiting.append(committed)
            else:
                s._apps.rollback_unit()
                s._undo_unit(exc, self._savepoint)
        finally:
            s._schedule_commit()
            s._lock.release()
        if committed is not None:
            await committed


async def open_sqlite(path: str) -> SqlStore:
    """Opens (creating if needed) the database file; the caller runs ``migrate()``."""
    if not path or path == ":memory:":
        raise ValueError("SQLite store needs a file path")
    file = await asyncio.to_thread(_prepare_parent, path)
    engine = sa.create_engine(sa.URL.create("sqlite", database=str(file)), poolclass=sa.pool.StaticPool)
    sa.event.listen(engine, "connect", _on_connect)
    sa.event.listen(engine, "begin", _on_begin)
    return SqliteStore(engine)
