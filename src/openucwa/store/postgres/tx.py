"""``PgTx``: ``SqlTx`` on one asyncpg connection, its hot statements compiled once and fewer of them."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ...core.conversation import ConvView, Message
from ...core.events import Event, StoredEvent
from ...core.machines.message import MessageStatus
from ...core.models import Application
from ..interface import DuplicateError
from ..schema import applications, conversations, messages
from ..schema import events as queue
from ..sql import SqlTx
from ..sql.channel import stored_event
from ..sql.rows import (
    APP_FIELDS,
    app_field_value,
    app_from_row,
    changed,
    message_values,
    to_column,
)
from ..sql.statements import (
    APP_BUMP_ROW,
    APP_UPDATE,
    BATCHES_PRUNE,
    MESSAGE_UPDATE,
    SESSION_DOCS,
    insert_statement,
)
from .own import OwnQueues, left_after
from .queues import KnownEmpty
from .statements import Rows, args_of, compile_statement, compiled_once, execute, run
from .writes import QUEUE_EVENTS, STORE_BATCH, Deferred, Write, combined, queue_args, tables_of


class PgConn:
    """The part of AsyncConnection that SqlTx uses, over one asyncpg connection.

    The statements SqlTx sends this way are the ones off the hot path: each first sends the unit's
    deferred writes (``before``), whatever tables it touches.
    """

    __slots__ = ("_raw", "_savepoints", "before")

    def __init__(self, raw: asyncpg.Connection) -> None:
        self._raw = raw
        self._savepoints = 0
        self.before: Callable[[], Awaitable[None]] | None = None

    async def execute(self, statement: sa.Executable, parameters: Any = None) -> Rows:
        if self.before is not None:
            await self.before()
        first = parameters[0] if isinstance(parameters, list) and parameters else parameters
        keys = tuple(first or ())
        return await execute(self._raw, compile_statement(statement, keys), parameters)

    @contextlib.asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        if self.before is not None:
            await self.before()
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
UNIQUE_VIOLATION = "23505"
# A shared round's reads as one prepared statement each, whatever the number of applications.
_IDS = sa.any_(sa.bindparam("b_ids", type_=ARRAY(sa.Text)))
_CONV_INSERT = pg_insert(conversations)
_CONV_UPSERT = _CONV_INSERT.on_conflict_do_update(
    index_elements=[conversations.c.id], set_={"doc": _CONV_INSERT.excluded.doc}
)
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
    """``SqlTx`` whose prepared statements go to asyncpg compiled once each, fewer of them.

    Writes whose outcome the unit never reads wait and ride on its next statement (``writes``);
    the application rows the unit has locked are known, so their updates can wait too (an update
    of a row the unit does not hold yet runs at once: the order in which locks are taken stays the
    actions' own).
    """

    def __init__(self, conn: PgConn, known_empty: KnownEmpty) -> None:
        super().__init__(conn)  # type: ignore[arg-type]  # PgConn offers the AsyncConnection calls SqlTx makes
        self._raw = conn._raw
        # Queues known empty (``queues``): the versions of the rows this unit locked, the applications
        # it queued events for (or may have), what it read of each queue, and what it saw empty.
        self._known_empty = known_empty
        self._versions: dict[str, int] = {}
        self._moved: set[str] = set()
        self._read: dict[str, set[int]] = {}
        self.seen_empty: dict[str, int] = {}  # learnt by the store once the unit committed
        self._deferred = Deferred()
        self._locked: set[str] = set()  # applications whose row this transaction holds
        self._queued = 0
        # Views of the sessions this unit has locked, as read under the lock and as it wrote them
        # since (docs, decoded anew at each read): the view an action reads again after locking its
        # session, the session's views it reads next, and those it reads after writing them are one
        # statement. The same for the messages it added. Forgotten at any other write.
        self._session_of: dict[str, str] = {}  # conversation → its session, as read
        self._sessions: set[str] = set()  # locked by this unit
        self._docs: dict[str, dict[str, str]] = {}  # session → its conversations' docs, by id
        self._messages: dict[tuple[str, int], Message] = {}
        # Application rows this unit holds, as they stand in it (its deferred updates applied): read
        # under the lock, or as a version bump returned them (decoded when first asked for). A
        # round that a message's unit runs for the recipient's P-GET reads the row without a
        # statement. Forgotten at any statement off the hot path.
        self._rows: dict[str, Application | dict[str, Any]] = {}
        self._own = OwnQueues(self._deferred)  # events queued, not sent yet: read and batched here
        conn.before = self._off_path

    async def _off_path(self) -> None:
        """Before any statement off the hot path: it may write anything (delete a session, say)."""
        self._docs.clear()
        self._messages.clear()
        self._sessions.clear()
        self._rows.clear()
        await self.flush()

    async def flush(self) -> None:
        """Sends the deferred writes now, in one statement."""
        pending = self.closing()
        if pending is not None:
            await _clashing(run(self._raw, *pending, ()))

    def closing(self) -> tuple[str, list[Any]] | None:
        """The deferred writes as one statement and its arguments, for the message that also carries
        COMMIT (``store._Unit``); forgets them. None when nothing waits."""
        if not self._deferred:
            return None
        writes, args = self._deferred.drain()
        return (combined(writes[:-1], writes[-1]) if len(writes) > 1 else writes[0]), args

    async def _send(self, sql: str, args: list[Any], names: tuple[str, ...]) -> Rows:
        """Runs a statement, the deferred writes in front of it unless it must see them."""
        if self._deferred:
            if self._deferred.touches(tables_of(sql)):
                await self.flush()
            else:
                writes, before = self._deferred.drain()
                return await _clashing(run(self._raw, combined(writes, sql), before + args, names))
        return await run(self._raw, sql, args, names)

    async def _run(self, stmt: sa.Executable, params: Any = None) -> Any:
        if isinstance(params, list):  # executemany: on its own
            await self.flush()
            return await execute(self._raw, compiled_once(stmt, tuple(params[0] if params else ())), params)
        entry = compiled_once(stmt, tuple(params or ()))
        return await self._send(entry[0], args_of(entry, params), entry[3])

    async def _defer(
        self, stmt: sa.Executable, params: dict[str, Any], kind: str, key: tuple[str, ...]
    ) -> Write:
        entry = compiled_once(stmt, tuple(params))
        return await self._later(Write(entry[0], args_of(entry, params), kind, key))

    async def _later(self, write: Write) -> Write:
        if not self._deferred.add(write):  # another kind of write to that row waits: it goes first
            await self.flush()
            self._deferred.add(write)
        return write

    async def get_application(self, app_id: str, *, for_update: bool = False) -> Application | None:
        app = self._held(app_id)
        if app is None:
            app = await super().get_application(app_id, for_update=for_update)
            if app is None or not for_update:
                return app
            self._rows[app_id] = app
        self._locked.add(app_id)
        self._versions.setdefault(app_id, app.version)
        return app

    def _held(self, app_id: str) -> Application | None:
        row = self._rows.get(app_id)
        if row is None or isinstance(row, Application):
            return row
        app = self._rows[app_id] = app_from_row(row)
        return app

    async def lock_applications(self, app_ids: Sequence[str]) -> dict[str, Application]:
        rows = (await self._run(_LOCK_MANY, {"b_ids": sorted(set(app_ids))})).mappings()
        found = {r["id"]: app_from_row(r) for r in rows}
        self._locked.update(found)
        self._rows.update(found)
        for app_id, app in found.items():
            self._versions.setdefault(app_id, app.version)
        return found

    def _locked_at(self, app_id: str) -> int | None:
        """The version of the row this unit holds, unless the unit queued events for it itself."""
        return None if app_id in self._moved else self._versions.get(app_id)

    def _moves(self, app_ids: Sequence[str]) -> None:
        self._moved.update(app_ids)
        for app_id in app_ids:
            self.seen_empty.pop(app_id, None)

    async def queued_events(self, app_id: str) -> list[StoredEvent]:
        own = self._own.offer(app_id)
        if own is not None:
            return own
        version = self._locked_at(app_id)
        if version is not None and self._known_empty.empty_at(app_id, version):
            return []
        queued = await super().queued_events(app_id)
        if version is not None:
            if queued:
                self._read[app_id] = {e.position for e in queued}
            else:
                self.seen_empty[app_id] = version
        return queued

    async def append_events_many(self, batches: Mapping[str, Sequence[Event]], now: float) -> dict[str, int]:
        self._moves(list(batches))
        self._own.queued_elsewhere(batches)
        return await super().append_events_many(batches, now)

    async def update_application(self, app_id: str, **fields: Any) -> None:
        if app_id not in self._locked or not fields or set(fields) - APP_FIELDS or "id" in fields:
            await super().update_application(app_id, **fields)  # it also refuses what is not a field
            return
        key = ("applications", app_id)
        earlier = self._deferred.take("update", key)
        merged = {**earlier.fields, **fields} if earlier is not None else fields
        values = {k: to_column(k, v) for k, v in merged.items()}
        (await self._defer(APP_UPDATE, {**values, "b_id": app_id}, "update", key)).fields = merged
        held = self._held(app_id)
        if held is not None:
            self._rows[app_id] = changed(held, {k: app_field_value(k, v) for k, v in fields.items()})

    async def bump_version(self, app_id: str) -> int:
        self._moves([app_id])  # a bump may come with queued events (append_events)
        row = (await self._run(APP_BUMP_ROW, {"b_id": app_id})).mappings().first()
        if row is None:
            raise LookupError(f"no application {app_id!r}")
        version = int(row["version"])
        self._own.bumped(app_id, self._known_empty.empty_at(app_id, version - 1))
        self._locked.add(app_id)
        self._rows[app_id] = row
        return version

    async def append_events(self, app_id: str, events: Sequence[Event], now: float) -> int:
        """The version bump takes the row lock now; the events follow with the next statement."""
        version = await self.bump_version(app_id)
        if events:
            self._own.add(app_id, await self._queue_later(app_id, events, now), events, now)
        return version

    async def _queue_later(self, app_id: str, events: Sequence[Event], now: float) -> Write:
        self._queued += 1
        key = ("events", str(self._queued))  # new rows: no other write touches them
        return await self._later(Write(QUEUE_EVENTS, queue_args(app_id, events, now), "insert", key))

    async def store_batch(self, app_id: str, number: int, body: bytes, positions: Sequence[int]) -> None:
        """The batch and its events' removal in one statement. Events of the unit's own queue
        (``own``) that the batch took are never sent; the rest are queued after it."""
        own = self._own.take(app_id)
        args = [app_id, number, body, [] if own is not None else list(positions)]
        if (await self._send(STORE_BATCH, args, ("count",))).scalar() == 0:
            if own is not None:  # nothing is lost if the unit goes on
                self._own.put_back(app_id, own[0])
            raise DuplicateError(f"batch {number} of {app_id!r} exists")
        if own is not None:
            left = left_after(*own, set(positions))
            for events, now in left:
                self._own.add(app_id, await self._queue_later(app_id, events, now), events, now)
            held = self._held(app_id)
            if not left and held is not None:  # empty at the version held, unless more is queued
                self.seen_empty[app_id] = held.version
            return
        version = self._locked_at(app_id)
        if version is not None and self._read.get(app_id) == set(positions):  # it took all it read
            self.seen_empty[app_id] = version

    async def prune_batches(self, app_id: str, below: int) -> None:
        if app_id not in self._locked:
            await super().prune_batches(app_id, below)
            return
        key = ("batches", app_id)
        earlier = self._deferred.take("prune", key)
        below = max(below, earlier.fields["below"]) if earlier is not None else below
        params = {"b_app": app_id, "b_below": below}
        (await self._defer(BATCHES_PRUNE, params, "prune", key)).fields = {"below": below}

    async def lock_session(self, session_id: str) -> bool:
        locked = await super().lock_session(session_id)
        if locked:
            self._sessions.add(session_id)
        return locked

    async def try_lock_session(self, session_id: str) -> bool | None:
        if session_id in self._sessions:  # this unit holds it
            return True
        locked = await super().try_lock_session(session_id)
        if locked:
            self._sessions.add(session_id)
        return locked

    async def get_conversation(self, conv_id: str) -> ConvView | None:
        session_id = self._session_of.get(conv_id)
        if session_id in self._sessions:  # read again under its session's lock: with its session
            views = [v for v in await self._views(session_id) if v.id == conv_id]
            return views[0] if views else None
        view = await super().get_conversation(conv_id)
        if view is not None:
            self._session_of[conv_id] = view.session_id
        return view

    async def session_views(self, session_id: str) -> list[ConvView]:
        if session_id not in self._sessions:
            return await super().session_views(session_id)
        return sorted(await self._views(session_id), key=lambda v: (v.created_at, v.id))

    async def _views(self, session_id: str) -> list[ConvView]:
        docs = self._docs.get(session_id)
        if docs is None:
            rows = await self._run(SESSION_DOCS, {"b_sid": session_id})
            docs = self._docs[session_id] = {conv_id: doc for conv_id, doc in rows}
        return [ConvView.from_doc(orjson.loads(d)) for d in docs.values()]

    async def delete_conversation(self, conv_id: str) -> None:
        self._docs.clear()
        self._messages.clear()
        await super().delete_conversation(conv_id)

    async def delete_session(self, session_id: str) -> None:
        """The unit no longer holds it: a later try-lock must say it is gone."""
        self._sessions.discard(session_id)
        self._docs.pop(session_id, None)
        await super().delete_session(session_id)

    async def put_conversation(self, view: ConvView) -> None:
        """An upsert, waiting for the next statement: views are written under their session's lock."""
        doc = orjson.dumps(view).decode()
        docs = self._docs.get(view.session_id)
        if docs is not None:
            docs[view.id] = doc
        self._session_of[view.id] = view.session_id
        values = {"id": view.id, "app_id": view.app_id, "session_id": view.session_id, "doc": doc}
        await self._defer(_CONV_UPSERT, values, "upsert", ("conversations", view.id))

    async def update_message(
        self, conv_id: str, n: int, *, status: MessageStatus, failed: Sequence[str]
    ) -> None:
        values = {
            "b_conv": conv_id,
            "b_n": n,
            "status": status.value,
            "failed": orjson.dumps(list(failed)).decode(),
        }
        await self._defer(MESSAGE_UPDATE, values, "update", ("messages", conv_id, str(n)))
        added = self._messages.get((conv_id, n))
        if added is not None:
            self._messages[conv_id, n] = dataclasses.replace(added, status=status, failed=tuple(failed))

    async def get_message(self, conv_id: str, n: int) -> Message | None:
        added = self._messages.get((conv_id, n))
        return added if added is not None else await super().get_message(conv_id, n)

    async def add_message(self, m: Message) -> None:
        """Deferred: the message's number is unique under its session's lock (a clash fails the unit)."""
        values = message_values(m)
        await self._defer(insert_statement(messages), values, "insert", ("messages", m.conv_id, str(m.n)))
        self._messages[m.conv_id, m.n] = m

    async def queued_events_many(self, app_ids: Sequence[str]) -> dict[str, list[StoredEvent]]:
        out: dict[str, list[StoredEvent]] = {}
        for r in (await self._run(_QUEUED_MANY, {"b_ids": sorted(set(app_ids))})).mappings():
            out.setdefault(r["app_id"], []).append(stored_event(r))
        return out

    async def _insert(self, table: sa.Table, values: Mapping[str, Any]) -> None:
        """One statement instead of SAVEPOINT, INSERT, RELEASE: a clash inserts nothing, and says so."""
        if (await self._run(_insert_or_nothing(table), dict(values))).rowcount == 0:
            raise DuplicateError(f"duplicate key in {table.name}")


async def _clashing(running: Awaitable[Rows]) -> Rows:
    """A statement carrying deferred writes: a key clash among them is a DuplicateError (the unit
    cannot go on: PostgreSQL aborted its transaction)."""
    try:
        return await running
    except sa.exc.IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == UNIQUE_VIOLATION:
            raise DuplicateError(str(exc.orig)) from exc
        raise
