"""``SqlTx`` assembled from its parts, ``SqlStore`` around it, and the schema upgrade."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from ..interface import Activity, RetryableError, SchemaStatus
from .channel import ChannelTx
from .conversations import ConversationsTx
from .directory import DirectoryTx
from .ops import ACTIVITY_SQL, MIGRATIONS, VERSION_TABLE, head_revision
from .people import PeopleTx
from .users import UsersTx

T = TypeVar("T")
# Arbitrary constant: PostgreSQL nodes starting together must not race to create the tables.
_MIGRATION_LOCK_KEY = 0x0C_A1_0001

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


class SqlTx(UsersTx, PeopleTx, ChannelTx, ConversationsTx, DirectoryTx):
    """One open transaction over every table; it never commits itself, ``SqlStore.transaction`` does."""


def upgrade(sync_conn: sa.Connection) -> None:
    """``alembic upgrade head`` on a connection inside a transaction."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if sync_conn.dialect.name == "postgresql":
        sync_conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


class SqlStore:
    """Store over an AsyncEngine; ``lock`` serialises whole transactions where the database can't."""

    def __init__(self, engine: AsyncEngine, *, lock: asyncio.Lock | None = None) -> None:
        self.engine = engine
        self._lock = lock

    @contextlib.asynccontextmanager
    async def _serialised(self) -> AsyncIterator[None]:
        if self._lock is None:
            yield
        else:
            async with self._lock:
                yield

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTx]:
        """Commits when the block exits normally, rolls back when it raises. Do not nest them."""
        try:
            async with self._serialised(), self.engine.connect() as conn, conn.begin():
                yield SqlTx(conn)
        except DBAPIError as exc:
            if _sqlstate(exc) in RETRYABLE_SQLSTATES:
                raise RetryableError(str(exc.orig)) from exc
            raise

    async def migrate(self) -> None:
        """Runs ``alembic upgrade head`` on our own connection: no alembic.ini, no second engine."""
        async with self._serialised(), self.engine.begin() as conn:
            await conn.run_sync(upgrade)

    async def schema_status(self) -> SchemaStatus:
        """A fresh connection from the pool (pre-pinged), so a database that went away says so."""
        async with self.engine.connect() as conn:
            exists = await conn.run_sync(lambda c: sa.inspect(c).has_table(VERSION_TABLE))
            current = (
                (await conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))).scalar()
                if exists
                else None
            )
        return SchemaStatus(current=current, head=head_revision())

    async def activity(self) -> Activity:
        async with self.engine.connect() as conn:
            apps, convs = (await conn.execute(sa.text(ACTIVITY_SQL))).one()
        return Activity(applications=int(apps), conversations=int(convs))

    async def run_sync(self, fn: Callable[[sa.Connection], T]) -> T:
        """Runs ``fn`` on a plain connection (schema checks, diagnostics)."""
        async with self._serialised(), self.engine.connect() as conn:
            return await conn.run_sync(fn)

    async def close(self) -> None:
        await self.engine.dispose()
