"""``PgStore``: transactions on a pool of plain asyncpg connections, statements sent as compiled SQL.

A unit of work costs its statements (``tx``: fewer of them than ``SqlTx`` sends), and nothing else:
its last writes, its COMMIT and the next unit's BEGIN go in one message (``EXECUTE
openucwa_closing_3(…); COMMIT; BEGIN``, the simple query protocol: a statement PREPAREd once per
connection, its values written in as literals, ``writes.literal``), and the connection waits,
already in that new transaction, for the next unit (``_Begun``). A ``BEGIN`` alone takes no
snapshot, no transaction id and no lock (READ COMMITTED takes its snapshot at the first statement),
so such a connection holds nothing back from other sessions or from vacuum; nothing in the store
reads ``now()``, the one thing such a transaction would have old. A connection that waited longer
than ``FRESH`` seconds is asked again (``ROLLBACK; BEGIN``, one round trip: what BEGIN cost
before), and one found dead then is replaced.

No ping when a connection leaves the pool (a dead one is replaced at BEGIN, which is what the ping
was for), no reset query when it comes back (nothing but its closing statements is ever left on a
connection: no LISTEN, no settings), no savepoint around an insert that may clash (``INSERT … ON
CONFLICT DO NOTHING`` says so by its row count). Schema upgrades and diagnostics keep SQLAlchemy's
engine (``SqlStore``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
import weakref
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ..interface import DuplicateError, RetryableError
from ..sql import SqlStore, SqlTx
from ..sql.store import RETRYABLE_SQLSTATES
from .queues import KnownEmpty
from .tx import UNIQUE_VIOLATION, PgConn, PgTx
from .writes import execute_literally

# Connection failures that BEGIN may meet on a pooled connection the server has since dropped.
_GONE = (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError, ConnectionError, OSError)


FRESH = 1.0  # seconds a begun connection may wait and still be used without asking it again


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Nothing beyond what asyncpg's release does anyway (roll back a transaction left open): the
    default reset query (RESET ALL, UNLISTEN *, advisory unlocks, CLOSE ALL) costs a round trip per
    unit for session state this store never sets."""


class _Begun:
    """Connections out of asyncpg's pool, each inside a transaction begun by the previous unit's
    COMMIT, newest last (the warmest goes first; the oldest age past ``FRESH`` and are asked again)."""

    # Seconds after which a begun connection nobody took goes back to asyncpg's pool, out of its
    # transaction: a quiet server shows no session "idle in transaction" for longer than this.
    linger = 5.0

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.waiting: list[tuple[asyncpg.Connection, float]] = []
        self._sweep: asyncio.TimerHandle | None = None
        self._returning: set[asyncio.Task[None]] = set()
        self.closed = False
        self.acquiring = 0  # units waiting for asyncpg's pool: connections must go back there
        # Closing statements PREPAREd on each connection (SQL → name), kept while it lives. Pool
        # proxies change at every acquire: the key is the connection beneath.
        self._prepared: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()

    def prepared(self, conn: asyncpg.Connection) -> dict[str, str]:
        # The connection beneath a pool proxy has no public name. Should asyncpg rename it, this
        # fails at once rather than keying by the proxy, which would PREPARE the same name twice.
        raw = conn._con if isinstance(conn, asyncpg.pool.PoolConnectionProxy) else conn
        if raw is None:  # asyncpg took it back (the server ended it): its next call says so
            return {}
        found = self._prepared.get(raw)
        if found is None:
            found = self._prepared[raw] = {}
        return found

    @property
    def wanted(self) -> bool:
        """Whether a unit ending now should begin the next one's transaction and keep its connection."""
        return not self.closed and self.acquiring == 0

    async def take(self) -> asyncpg.Connection:
        """A connection inside a fresh transaction."""
        while self.waiting:
            conn, since = self.waiting.pop()
            state = _state(conn)
            if state is _ConnState.GIVEN_BACK:
                continue
            if state is _ConnState.CLOSED:
                await self._drop(conn)
                continue
            if time.monotonic() - since < FRESH:
                return conn
            try:
                await conn.execute("ROLLBACK; BEGIN")
            except _GONE:
                await self._drop(conn)
                continue
            except BaseException:
                await self.give_back(conn)
                raise
            return conn
        for attempt in (1, 2):
            self.acquiring += 1
            try:
                conn = await self.pool.acquire()
            finally:
                self.acquiring -= 1
            try:
                await conn.execute("BEGIN")
            except _GONE:
                await self._drop(conn)
                if attempt == 2:
                    raise
                continue
            except BaseException:
                await self.pool.release(conn)
                raise
            return conn
        raise AssertionError("unreachable")

    async def keep(self, conn: asyncpg.Connection) -> None:
        """Keeps a connection the unit left in a new transaction; any other goes back to the pool, and
        so does every one while a unit waits there (or it might wait for ever)."""
        if not self.wanted or _state(conn) is not _ConnState.OPEN or not conn.is_in_transaction():
            await self.give_back(conn)
        else:
            self.waiting.append((conn, time.monotonic()))
            if self._sweep is None:
                self._sweep = asyncio.get_running_loop().call_later(self.linger, self._return_lingering)

    def _return_lingering(self) -> None:
        """Gives back the connections that waited ``linger`` seconds; looks again while any wait."""
        self._sweep = None
        cutoff = time.monotonic() - self.linger
        old = [(c, t) for c, t in self.waiting if t <= cutoff]
        if old:
            self.waiting = [(c, t) for c, t in self.waiting if t > cutoff]
            task = asyncio.get_running_loop().create_task(self._give_back_all([c for c, _ in old]))
            self._returning.add(task)
            task.add_done_callback(self._returning.discard)
        if self.waiting and not self.closed:
            self._sweep = asyncio.get_running_loop().call_later(self.linger, self._return_lingering)

    async def _give_back_all(self, conns: list[asyncpg.Connection]) -> None:
        for conn in conns:
            with contextlib.suppress(*_GONE, asyncpg.PostgresError):
                await self.give_back(conn)

    async def give_back(self, conn: asyncpg.Connection) -> None:
        """To asyncpg's pool, out of any transaction (asyncpg would roll it back, but complain)."""
        state = _state(conn)
        if state is _ConnState.GIVEN_BACK:
            return
        if state is _ConnState.CLOSED:
            conn.terminate()
        elif conn.is_in_transaction():
            try:
                await conn.execute("ROLLBACK")
            except (*_GONE, asyncpg.PostgresError):
                conn.terminate()
        await self.pool.release(conn)

    async def _drop(self, conn: asyncpg.Connection) -> None:
        if _state(conn) is _ConnState.GIVEN_BACK:
            return
        conn.terminate()
        await self.pool.release(conn)

    async def close(self) -> None:
        self.closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        if self._returning:
            await asyncio.gather(*self._returning, return_exceptions=True)
        waiting, self.waiting = self.waiting, []
        for conn, _ in waiting:
            with contextlib.suppress(*_GONE, asyncpg.PostgresError):
                await self.give_back(conn)


class _ConnState(enum.Enum):
    """What became of a pooled connection this store holds."""

    OPEN = "open"
    CLOSED = "closed"
    GIVEN_BACK = "given back"  # the server ended it and asyncpg took it back into its pool


def _state(conn: asyncpg.Connection) -> _ConnState:
    """When the server ends a session (a restart, an operator's ``pg_terminate_backend``), asyncpg
    cleans the connection up and takes it back at once, and the proxy we hold refuses every call."""
    try:
        return _ConnState.CLOSED if conn.is_closed() else _ConnState.OPEN
    except asyncpg.InterfaceError:
        return _ConnState.GIVEN_BACK


class _Unit:
    """One transaction on a begun connection: the unit's statements, then COMMIT (and the next
    unit's BEGIN) or ROLLBACK (and BEGIN)."""

    __slots__ = ("_begun", "_conn", "_known_empty", "_tx")

    def __init__(self, begun: _Begun, known_empty: KnownEmpty) -> None:
        self._begun = begun
        self._known_empty = known_empty
        self._conn: asyncpg.Connection | None = None
        self._tx: PgTx | None = None

    async def __aenter__(self) -> SqlTx:
        self._conn = await self._begun.take()
        self._tx = PgTx(PgConn(self._conn), self._known_empty)
        return self._tx

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        conn, self._conn = self._conn, None
        tx, self._tx = self._tx, None
        assert conn is not None and tx is not None
        failed: BaseException | None = exc
        kept = False
        try:
            if exc is None:
                keep = self._begun.wanted
                end = "COMMIT; BEGIN" if keep else "COMMIT"
                prepared = self._begun.prepared(conn)
                try:
                    message, new = _closing(tx, prepared, end)  # the writes still held go with it
                except ValueError as error:  # a value no literal can carry: rolled back, raised
                    failed = error
                else:
                    try:
                        await conn.execute(message)
                    except asyncpg.PostgresError as error:
                        if not conn.is_in_transaction():  # COMMIT failed: BEGIN never ran
                            _raise_retryable(error)
                            raise sa.exc.DBAPIError("COMMIT", None, error) from error
                        failed = _failed_write(message, error)  # COMMIT never ran: rolled back below
                    else:
                        if tx.seen_empty:  # committed: what it saw of its queues holds
                            self._known_empty.learn(tx.seen_empty)
                        if new is not None:
                            prepared[new[0]] = new[1]
                        if keep:
                            await self._begun.keep(conn)
                            kept = True
                        return
                    if new is not None:  # PREPARE outlives a rollback: it may have run
                        with contextlib.suppress(*_GONE, asyncpg.PostgresError):
                            await conn.execute(f"ROLLBACK; DEALLOCATE {new[1]}")
            if _state(conn) is _ConnState.OPEN:
                keep = self._begun.wanted
                with contextlib.suppress(*_GONE, asyncpg.PostgresError):
                    await conn.execute("ROLLBACK; BEGIN" if keep else "ROLLBACK")
                    if keep:
                        await self._begun.keep(conn)
                        kept = True
            if isinstance(failed, sa.exc.DBAPIError):
                _raise_retryable(failed.orig)
            if exc is None and failed is not None:  # the held-back writes failed: nothing committed
                raise failed
        finally:
            if not kept:
                await self._begun.give_back(conn)


def _closing(tx: PgTx, prepared: dict[str, str], end: str) -> tuple[str, tuple[str, str] | None]:
    """The unit's closing message, and (SQL, name) of a statement it PREPAREs on the connection."""
    last = tx.closing()
    if last is None:
        return end, None
    sql, args = last
    name = prepared.get(sql)
    if name is not None:
        return f"{execute_literally(name, args)}; {end}", None
    name = f"openucwa_closing_{len(prepared)}"
    return f"PREPARE {name} AS {sql}; {execute_literally(name, args)}; {end}", (sql, name)


def _failed_write(sql: str | None, error: asyncpg.PostgresError) -> Exception:
    """A held-back write failed in the closing message: a key clash is a DuplicateError, as it is
    when such a write goes with a later statement (``tx._clashing``)."""
    if getattr(error, "sqlstate", None) == UNIQUE_VIOLATION:
        return DuplicateError(str(error))
    return sa.exc.DBAPIError(sql, None, error)


def _raise_retryable(orig: object) -> None:
    if getattr(orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
        raise RetryableError(str(orig))


class PgStore(SqlStore):
    """The PostgreSQL store: units of work on ``pool``; the engine for migrations and diagnostics."""

    def __init__(self, engine: AsyncEngine, pool: asyncpg.Pool) -> None:
        super().__init__(engine)
        self.pool = pool
        self._begun = _Begun(pool)
        self.known_empty = KnownEmpty()

    def transaction(self) -> contextlib.AbstractAsyncContextManager[SqlTx]:  # type: ignore[override]  # same contract, a class not a generator
        return _Unit(self._begun, self.known_empty)

    async def close(self) -> None:
        await self._begun.close()
        await self.pool.close()
        await super().close()


async def create_pool(dsn: str, size: int) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=size,
        reset=_no_reset,
        statement_cache_size=1024,  # the hot statements, prepared once per connection
        server_settings={
            # The closing message writes values in as literals (``writes.literal``), quoted for this.
            "standard_conforming_strings": "on",
            # Every statement of the store reads by key or key range. The event queue is a table
            # rows go through quickly: a plain index scan marks the entries of consumed events dead
            # as it meets them, a bitmap scan does not, so with bitmap scans each read of a queue
            # walked every event consumed since the last vacuum (≈ 170 index entries and their heap
            # pages per read at P=8, 13 % of the database's CPU per message; bench/README.md).
            "enable_bitmapscan": "off",
        },
    )
