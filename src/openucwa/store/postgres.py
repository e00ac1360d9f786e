"""PostgreSQL: the scale-out backend.

Several nodes share one database, so there is no in-process lock: ``SELECT … FOR UPDATE`` on the
application row is what serialises work on one event channel across nodes.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from .sql import SqlStore

_SCHEMES = frozenset({"postgres", "postgresql", "postgresql+asyncpg"})


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


async def open_postgres(url: str) -> SqlStore:
    """The caller runs ``migrate()``; pre-ping survives a database restart behind a long-lived pool."""
    engine = create_async_engine(asyncpg_url(url), pool_size=10, max_overflow=5, pool_pre_ping=True)
    return SqlStore(engine)
