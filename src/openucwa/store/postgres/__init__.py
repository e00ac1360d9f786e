"""PostgreSQL: the scale-out backend.

Several nodes share one database, so there is no in-process lock: ``SELECT … FOR UPDATE`` on the
application row is what serialises work on one event channel across nodes. Units of work run on
plain asyncpg connections (``store``: one round trip per statement, compiled once by SQLAlchemy,
``statements``); migrations and diagnostics go through SQLAlchemy's engine.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from .store import PgStore, create_pool

_SCHEMES = frozenset({"postgres", "postgresql", "postgresql+asyncpg"})
# Connections one node keeps for units of work: enough for every request in flight on one event
# loop to hold one while it waits on the database; PostgreSQL allows 100 by default, for all nodes.
POOL_SIZE = 20

__all__ = ["POOL_SIZE", "PgStore", "asyncpg_url", "open_postgres"]


def asyncpg_url(url: str) -> sa.URL:
    """Accepts the libpq-style URLs operators have (``postgres://``, ``sslmode=``) for asyncpg."""
    parsed = sa.make_url(url)
    if parsed.drivername not in _SCHEMES:
        raise ValueError(f"not a PostgreSQL URL: {parsed.drivername}://…")
    parsed = parsed.set(drivername="postgresql+asyncpg")
    if "sslmode" in parsed.query:  # asyncpg names it ``ssl``
        query = dict(parsed.query)
        query["ssl"] = query.pop("sslmode")
        parsed = parsed.set(query=query)
    return parsed


def _dsn(url: sa.URL) -> str:
    """The URL as asyncpg's own ``connect`` reads it (libpq style, ``sslmode``)."""
    query = dict(url.query)
    if "ssl" in query:
        query["sslmode"] = query.pop("ssl")
    return url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)


async def open_postgres(url: str) -> PgStore:
    """The caller runs ``migrate()``. Units of work get ``POOL_SIZE`` asyncpg connections (a dead one
    is replaced at BEGIN); the engine, for migrations and diagnostics, pings before use, so both
    survive a database restart behind a long-lived pool."""
    parsed = asyncpg_url(url)
    engine = create_async_engine(parsed, pool_size=2, max_overflow=2, pool_pre_ping=True)
    try:
        pool = await create_pool(_dsn(parsed), POOL_SIZE)
    except BaseException:
        await engine.dispose()
        raise
    return PgStore(engine, pool)
