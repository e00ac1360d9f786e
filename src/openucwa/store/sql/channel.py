"""Applications and their event channels: queued events, produced batches, versions."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from ...core.events import Event, Priority, Receipt, StoredEvent
from ...core.lifetime import Timers
from ...core.models import Application, AppStatus
from ..schema import applications, batches
from ..schema import events as queue
from .base import TxBase, chunked
from .rows import APP_FIELDS, app_from_row, event_row, to_column
from .statements import (
    APP_BUMP,
    APP_BY_ID,
    APP_BY_ID_LOCKED,
    APP_OF_ENDPOINT,
    APP_UPDATE,
    APPS_COUNT_OF_USER,
    APPS_LEAST_USED_OF_USER,
    APPS_OF_USER,
    BATCH_BODY,
    BATCHES_PRUNE,
    EVENT_CONSUMED,
    EVENTS_DISCARD,
    EVENTS_QUEUED,
    insert_statement,
)


class ChannelTx(TxBase):
    # applications ------------------------------------------------------------------------
    async def add_application(self, app: Application) -> None:
        values = {f.name: to_column(f.name, getattr(app, f.name)) for f in dataclasses.fields(app)}
        await self._insert(applications, values)

    async def get_application(self, app_id: str, *, for_update: bool = False) -> Application | None:
        stmt = APP_BY_ID_LOCKED if for_update else APP_BY_ID
        row = (await self._run(stmt, {"b_id": app_id})).mappings().first()
        return None if row is None else app_from_row(row)

    async def application_versions(self, app_ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        c = applications.c
        for chunk in chunked(app_ids):
            stmt = sa.select(c.id, c.version).where(c.id.in_(chunk))
            found.update((app_id, int(v)) for app_id, v in (await self._conn.execute(stmt)).all())
        return found

    async def lock_applications(self, app_ids: Sequence[str]) -> dict[str, Application]:
        found: dict[str, Application] = {}
        c = applications.c
        for chunk in chunked(sorted(set(app_ids))):  # one lock order for every shared round
            stmt = sa.select(applications).where(c.id.in_(chunk)).order_by(c.id)
            stmt = stmt.with_for_update()
            for r in (await self._conn.execute(stmt)).mappings():
                app = app_from_row(r)
                found[app.id] = app
        return found

    async def find_application(self, user_uri: str, endpoint_id: str) -> Application | None:
        params = {"b_user": user_uri, "b_endpoint": endpoint_id}
        row = (await self._run(APP_OF_ENDPOINT, params)).mappings().first()
        return None if row is None else app_from_row(row)

    async def list_applications(
        self, user_uri: str | None = None, *, active_only: bool = True
    ) -> list[Application]:
        if user_uri is not None and active_only:  # the common case, prepared
            rows = (await self._run(APPS_OF_USER, {"b_user": user_uri})).mappings()
            return [app_from_row(r) for r in rows]
        c = applications.c
        stmt = sa.select(applications).order_by(c.created_at, c.id)
        if user_uri is not None:
            stmt = stmt.where(c.user_uri == user_uri)
        if active_only:
            stmt = stmt.where(c.status == AppStatus.ACTIVE)
        return [app_from_row(r) for r in (await self._conn.execute(stmt)).mappings()]

    async def applications_to_review(self, now: float, timers: Timers) -> list[Application]:
        # core.lifetime.verdict as a filter, so that a sweep of thousands of idle applications
        # decodes only the few it acts on.
        c = applications.c
        pending = sa.and_(c.pget_owner.is_not(None), sa.func.coalesce(c.pget_lease_until, 0) > now)
        since = sa.case(
            (sa.and_(c.used_channel, c.pget_released_at.is_not(None)), c.pget_released_at),
            else_=c.last_request_at,
        )
        resettable = sa.and_(c.used_channel, sa.not_(c.resume_pending), since <= now - timers.transient)
        due = sa.or_(
            sa.and_(c.status != AppStatus.ACTIVE, sa.func.coalesce(c.ended_at, 0) <= now - timers.tombstone),
            sa.and_(
                c.status == AppStatus.ACTIVE, sa.not_(pending), sa.or_(since <= now - timers.idle, resettable)
            ),
        )
        stmt = sa.select(applications).where(due).order_by(c.id)
        return [app_from_row(r) for r in (await self._conn.execute(stmt)).mappings()]

    async def applications_beyond(self, user_uri: str, keep: int) -> list[Application]:
        # Both statements read the (user_uri, status, last_request_at) index; rows only for victims.
        count = int((await self._run(APPS_COUNT_OF_USER, {"b_user": user_uri})).scalar_one_or_none() or 0)
        if count <= keep:
            return []
        rows = await self._run(APPS_LEAST_USED_OF_USER, {"b_user": user_uri, "b_limit": count - keep})
        return [app_from_row(r) for r in rows.mappings()]

    async def update_application(self, app_id: str, **fields: Any) -> None:
        """Raises ValueError for names that are not ``Application`` fields, and for ``id``."""
        unknown = set(fields) - APP_FIELDS
        if unknown or "id" in fields:
            raise ValueError(f"cannot update application fields: {sorted(unknown | (set(fields) & {'id'}))}")
        if not fields:
            return
        values = {k: to_column(k, v) for k, v in fields.items()}
        values["b_id"] = app_id
        await self._run(APP_UPDATE, values)

    async def delete_application(self, app_id: str) -> None:
        await self._conn.execute(queue.delete().where(queue.c.app_id == app_id))
        await self._conn.execute(batches.delete().where(batches.c.app_id == app_id))
        await self._conn.execute(applications.delete().where(applications.c.id == app_id))

    # event channel -----------------------------------------------------------------------
    async def append_events(self, app_id: str, events: Sequence[Event], now: float) -> int:
        """Raises LookupError for an unknown application.

        The version is bumped *before* inserting: the row lock it takes makes concurrent appenders to
        one application draw positions in commit order, so a queue never gains an older position.
        """
        version = await self.bump_version(app_id)
        if events:
            await self._run(insert_statement(queue), [event_row(app_id, ev, now) for ev in events])
        return version

    async def append_events_many(self, batches: Mapping[str, Sequence[Event]], now: float) -> dict[str, int]:
        """``append_events`` for many applications in two statements per 500 (fan-out to watchers).

        Applications that no longer exist are skipped (absent from the result) rather than failing
        the change that is being announced.
        """
        c = applications.c
        versions: dict[str, int] = {}
        for chunk in chunked(sorted(batches)):  # one lock order for every fan-out
            stmt = (
                applications.update()
                .where(c.id.in_(chunk))
                .values(version=c.version + 1)
                .returning(c.id, c.version)
            )
            found = {r[0]: int(r[1]) for r in await self._conn.execute(stmt)}
            versions.update(found)
            rows = [
                event_row(app_id, ev, now) for app_id in chunk if app_id in found for ev in batches[app_id]
            ]
            if rows:
                await self._conn.execute(queue.insert(), rows)
        return versions

    async def bump_version(self, app_id: str) -> int:
        """Raises LookupError for an unknown application."""
        version = (await self._run(APP_BUMP, {"b_id": app_id})).scalar_one_or_none()
        if version is None:
            raise LookupError(f"no application {app_id!r}")
        return int(version)

    async def queued_events(self, app_id: str) -> list[StoredEvent]:
        return [stored_event(r) for r in (await self._run(EVENTS_QUEUED, {"b_app": app_id})).mappings()]

    async def queued_events_many(self, app_ids: Sequence[str]) -> dict[str, list[StoredEvent]]:
        out: dict[str, list[StoredEvent]] = {}
        c = queue.c
        for chunk in chunked(sorted(set(app_ids))):
            stmt = sa.select(queue).where(c.app_id.in_(chunk)).order_by(c.app_id, c.position)
            for r in (await self._conn.execute(stmt)).mappings():
                out.setdefault(r["app_id"], []).append(stored_event(r))
        return out

    async def take_overdue_receipts(self, enqueued_before: float) -> list[tuple[str, Receipt]]:
        """Removes undelivered message events queued before the cutoff; returns (app, receipt)."""
        c = queue.c
        cond = sa.and_(c.receipt.is_not(None), c.enqueued_at < enqueued_before)
        rows = (await self._conn.execute(sa.select(c.position, c.app_id, c.receipt).where(cond))).all()
        if rows:
            await self._conn.execute(queue.delete().where(c.position.in_([r[0] for r in rows])))
        return [(r[1], Receipt(**orjson.loads(r[2]))) for r in rows]

    async def discard_queued(self, app_id: str) -> None:
        await self._run(EVENTS_DISCARD, {"b_app": app_id})

    async def store_batch(self, app_id: str, number: int, body: bytes, positions: Sequence[int]) -> None:
        """Raises DuplicateError when the batch number exists (a batch is produced once)."""
        await self._insert(batches, {"app_id": app_id, "number": number, "body": body})
        if positions:
            await self._run(EVENT_CONSUMED, [{"b_app": app_id, "b_pos": p} for p in positions])

    async def get_batch(self, app_id: str, number: int) -> bytes | None:
        body = (await self._run(BATCH_BODY, {"b_app": app_id, "b_n": number})).scalar_one_or_none()
        return None if body is None else bytes(body)

    async def prune_batches(self, app_id: str, below: int) -> None:
        await self._run(BATCHES_PRUNE, {"b_app": app_id, "b_below": below})


def stored_event(r: Mapping[Any, Any]) -> StoredEvent:
    return StoredEvent(
        position=r["position"],
        sender_rel=r["sender_rel"],
        sender_href=r["sender_href"],
        body=orjson.loads(r["body"]),
        priority=Priority(r["priority"]),
        enqueued_at=r["enqueued_at"],
        merge_key=r["merge_key"],
        receipt=None if r["receipt"] is None else Receipt(**orjson.loads(r["receipt"])),
    )
