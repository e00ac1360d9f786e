"""``PgStore``: transactions on a pool of plain asyncpg connections, statements sent as compiled SQL.

A unit of work costs its statements plus BEGIN and COMMIT, one round trip each, and nothing else:
no ping when a connection leaves the pool (a connection found dead at BEGIN is replaced and the
BEGIN sent again, which is what the ping was for), no reset query when it comes back (every unit
ends its transaction; nothing else is ever left on a connection: no LISTEN, no settings), and
no savepoint around an insert that may clash (``INSERT … ON CONFLICT DO NOTHING`` says so by its
row count). Schema upgrades and diagnostics keep SQLAlchemy's engine (``SqlStore``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from ...core.events import StoredEvent
from ...core.models import Application
from ..interface import DuplicateError, RetryableError
from ..schema import applications
from ..schema import events as queue
from ..sql import SqlStore, SqlTx
from ..sql.channel import stored_event
from ..sql.rows import app_from_row
from ..sql.store import RETRYABLE_SQLSTATES
from .statements import Rows, compile_statement, compiled_once, execute

# Connection failures that BEGIN may meet on a pooled connection the server has since dropped.
_GONE = (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError, ConnectionError, OSError)


class PgConn:
    """The part of AsyncConnection that SqlTx uses, over one asyncpg connection."""

    __slots__ = ("_raw", "_savepoints")

    def __init__(self, raw: asyncpg.Connection) -> None:
        self._raw = raw
        self._savepoints = 0

    async def execute(self, statement: sa.Executable, parameters: Any = None) -> Rows:
        first = parameters[0] if isinstance(parameters, list) and parameters else parameters
        keys = tuple(first or ())
        return await execute(self._raw, compile_statement(statement, keys), parameters)

    @contextlib.asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        self._savepoints += 1
        name = f"sp_{self._savepoints}"
        await self._raw.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            await self._raw.execute(f"ROLLBACK TO SAVEPOINT {name}")
            raise
        await self._raw.execute(f"RELEASE SAVEPOINT {name}")


_INSERTS: dict[sa.Table, sa.Insert] = {}
# A shared round's reads as one prepared statement each, whatever the number of applications.
_IDS = sa.any_(sa.bindparam("b_ids", type_=ARRAY(sa.Text)))
_LOCK_MANY = (
    sa.select(applications).where(applications.c.id == _IDS).order_by(applications.c.id).with_for_update()
)
_QUEUED_MANY = sa.select(queue).where(queue.c.app_id == _IDS).order_by(queue.c.app_id, queue.c.position)


def _insert_or_nothing(table: sa.Table) -> sa.Insert:
    stmt = _INSERTS.get(table)
    if stmt is None:
        stmt = _INSERTS[table] = pg_insert(table).on_conflict_do_nothing()
    return stmt


class PgTx(SqlTx):
    """``SqlTx`` whose prepared statements go to asyncpg compiled once each."""

    def __init__(self, conn: PgConn) -> None:
        super().__init__(conn)  # type: ignore[arg-type]  # PgConn offers the AsyncConnection calls SqlTx makes
        self._raw = conn._raw

    async def _run(self, stmt: sa.Executable, params: Any = None) -> Any:
        first = params[0] if isinstance(params, list) and params else params
        return await execute(self._raw, compiled_once(stmt, tuple(first or ())), params)

    async def lock_applications(self, app_ids: Sequence[str]) -> dict[str, Application]:
        rows = (await self._run(_LOCK_MANY, {"b_ids": sorted(set(app_ids))})).mappings()
        return {r["id"]: app_from_row(r) for r in rows}

    async def queued_events_many(self, app_ids: Sequence[str]) -> dict[str, list[StoredEvent]]:
        out: dict[str, list[StoredEvent]] = {}
        for r in (await self._run(_QUEUED_MANY, {"b_ids": sorted(set(app_ids))})).mappings():
            out.setdefault(r["app_id"], []).append(stored_event(r))
        return out

    async def _insert(self, table: sa.Table, values: Mapping[str, Any]) -> None:
        """One statement instead of SAVEPOINT, INSERT, RELEASE: a clash inserts nothing, and says so."""
        if (await self._run(_insert_or_nothing(table), dict(values))).rowcount == 0:
            raise DuplicateError(f"duplicate key in {table.name}")


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Nothing beyond what asyncpg's release does anyway (roll back a transaction left open, which
    a unit never does): the default reset query (RESET ALL, UNLISTEN *, advisory unlocks, CLOSE
    ALL) costs a round trip per unit for session state this store never sets."""


class _Unit:
    """One transaction on a pooled connection: BEGIN, the unit's statements, COMMIT or ROLLBACK."""

    __slots__ = ("_conn", "_pool")

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> SqlTx:
        for attempt in (1, 2):
            conn = await self._pool.acquire()
            try:
                await conn.execute("BEGIN")
            except _GONE:
                conn.terminate()
                await self._pool.release(conn)
                if attempt == 2:
                    raise
                continue
            except BaseException:
                await self._pool.release(conn)
                raise
            self._conn = conn
            return PgTx(PgConn(conn))
        raise AssertionError("unreachable")

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        conn, self._conn = self._conn, None
        assert conn is not None
        try:
            if exc is None:
                try:
                    await conn.execute("COMMIT")
                except asyncpg.PostgresError as failed:
                    _raise_retryable(failed)
                    raise sa.exc.DBAPIError("COMMIT", None, failed) from failed
                return
            if not conn.is_closed():
                with contextlib.suppress(*_GONE, asyncpg.PostgresError):
                    await conn.execute("ROLLBACK")
            if isinstance(exc, sa.exc.DBAPIError):
                _raise_retryable(exc.orig)
        finally:
            await self._pool.release(conn)


def _raise_retryable(orig: object) -> None:
    if getattr(orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
        raise RetryableError(str(orig))


class PgStore(SqlStore):
    """The PostgreSQL store: units of work on ``pool``; the engine for migrations and diagnostics."""

    def __init__(self, engine: AsyncEngine, pool: asyncpg.Pool) -> None:
        super().__init__(engine)
        self.pool = pool

    def transaction(self) -> contextlib.AbstractAsyncContextManager[SqlTx]:  # type: ignore[override]  # same contract, a class not a generator
        return _Unit(self.pool)

    async def close(self) -> None:
        await self.pool.close()
        await super().close()


async def create_pool(dsn: str, size: int) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=size,
        reset=_no_reset,
        statement_cache_size=1024,  # the hot statements, prepared once per connection
    )
