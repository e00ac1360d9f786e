"""``SqliteTx``: ``SqlTx`` on the event loop, its hot statements run directly and applications cached."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from ...core.events import Event, StoredEvent
from ...core.models import Application
from ..sql import SqlTx, app_field_value
from ..sql.rows import changed
from .cache import AppCache
from .statements import execute


class OnLoop:
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


class SqliteTx(SqlTx):
    """Runs the prepared statements straight on the sqlite3 connection, compiled once each.

    SQLAlchemy's per-execution work (cache key, execution context, result metadata) cost about ten
    times what SQLite itself spends on these one-row statements; they are the hot path of every
    message and P-GET, so they skip it. Everything else still goes through SQLAlchemy.
    """

    def __init__(self, conn: OnLoop, raw: sqlite3.Connection, apps: AppCache) -> None:
        super().__init__(conn)  # type: ignore[arg-type]  # OnLoop offers the AsyncConnection calls SqlTx makes
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

    async def lock_applications(self, app_ids: Sequence[str]) -> dict[str, Application]:
        """One at a time, through the cache: the store's lock already serialises everything."""
        found = {}
        for app_id in sorted(set(app_ids)):
            app = await self.get_application(app_id, for_update=True)
            if app is not None:
                found[app_id] = app
        return found

    async def queued_events_many(self, app_ids: Sequence[str]) -> dict[str, list[StoredEvent]]:
        """One at a time, so that queues known to be empty are not read (``AppCache.drained``)."""
        return {app_id: await self.queued_events(app_id) for app_id in sorted(set(app_ids))}

    async def update_application(self, app_id: str, **fields: Any) -> None:
        await super().update_application(app_id, **fields)
        cached = self._apps.apps.get(app_id)
        if cached is not None and fields:
            values = {k: app_field_value(k, v) for k, v in fields.items()}
            self._apps.put(changed(cached, values))

    async def bump_version(self, app_id: str) -> int:
        version = await super().bump_version(app_id)
        cached = self._apps.apps.get(app_id)
        if cached is not None:
            self._apps.put(changed(cached, {"version": version}))
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
        return execute(self._raw, stmt, params)

    def _clash_guard(self) -> contextlib.AbstractAsyncContextManager[Any]:
        # SQLite undoes just the failed statement: the transaction carries on without a savepoint.
        return contextlib.nullcontext()
