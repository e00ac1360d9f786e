"""The P-GET use case (SPEC §8): replace, acknowledge, decide, then produce, replay or wait.

Each round is one transaction holding the application row: it applies what ``core.channel.decide``
says and, when told to wait, returns the version to wait past. The caller (server long-poll) waits
on the notifier and comes back for another round; a round that finds its P-GET replaced answers
409 PGetReplaced.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from ..core import errors
from ..core.channel import Produce, Replay, Resync, Wait, acknowledge, decide, merge, within_bytes
from ..core.commands import PGet
from ..core.errors import UcwaError
from ..core.events import Receipt, StoredEvent, page, resync_page
from ..core.links import AppLinks
from ..wire import dumps
from . import access, messages
from .services import Services, retrying, unit

LEASE_SLACK = 30.0


def _size(event: StoredEvent) -> int:
    return len(orjson.dumps(event.body))


@dataclass(frozen=True, slots=True)
class Answer:
    body: bytes
    unsettled: tuple[Receipt, ...] = ()  # delivery receipts to settle after the commit
    events: int = 0  # events and messages first put into a batch by this answer (metrics)
    messages: int = 0


@dataclass(frozen=True, slots=True)
class Hold:
    version: int
    until: float


async def pget_round(
    svc: Services, app_id: str, user_uri: str, params: PGet, pget_id: str, started_at: float, first: bool
) -> Answer | Hold:
    result = await _round(svc, app_id, user_uri, params, pget_id, started_at, first)
    if isinstance(result, Answer):
        if result.events:  # committed: count them now
            svc.metrics.events_delivered.inc(result.events)
            svc.metrics.messages_delivered.inc(result.messages)
        if result.unsettled:
            await messages.confirm(svc, list(result.unsettled))
    return result


@retrying
async def _round(
    svc: Services, app_id: str, user_uri: str, params: PGet, pget_id: str, started_at: float, first: bool
) -> Answer | Hold:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri, for_update=True)
        fields: dict[str, object] = {}
        if first:
            if app.pget_pending(u.now) and app.pget_owner != pget_id and params.priority < app.pget_priority:
                raise UcwaError(errors.PGET_REPLACED)
            settings = app.channel.settings.updated(params.timeout, params.low, params.medium)
            fields = {
                "pget_owner": pget_id,
                "pget_priority": params.priority,
                "pget_lease_until": started_at + settings.timeout + LEASE_SLACK,
                "used_channel": True,
                "ch_timeout": settings.timeout,
                "ch_low": settings.low,
                "ch_medium": settings.medium,
            }
        elif app.pget_owner != pget_id:
            raise UcwaError(errors.PGET_REPLACED)
        # A P-GET it displaces must wake to answer 409; with none pending, nobody needs a wake.
        displaces = first and app.pget_owner is not None and app.pget_owner != pget_id
        state = app.channel
        if first:
            state = type(state)(state.lowest, state.next, settings, state.resume_pending)
        if params.ack is not None:
            acked = acknowledge(state, params.ack)
            if acked.lowest != state.lowest:
                await u.tx.prune_batches(app.id, acked.lowest)
                fields["lowest_batch"] = acked.lowest
                state = acked
        links = AppLinks(app.id)
        queued = await u.tx.queued_events(app.id) if params.ack == state.next else []
        decision = decide(
            state,
            params.ack,
            queued,
            now=u.now,
            started_at=started_at,
            aggregation=svc.settings.event_aggregation,
        )
        if isinstance(decision, Wait):
            await u.tx.update_application(app.id, **fields)
            version = await u.bump(app.id) if displaces else app.version
            return Hold(version, decision.until)
        release = {**fields, "pget_owner": None, "pget_released_at": u.now}
        if isinstance(decision, Resync):
            await u.tx.update_application(app.id, **release)
            if displaces:
                await u.bump(app.id)
            return Answer(dumps(resync_page(links.events(decision.ack))))
        if isinstance(decision, Replay):
            body = await u.tx.get_batch(app.id, decision.number)
            if body is None:  # pruned under us by an expiry; the client must start over
                raise UcwaError(errors.APPLICATION_NOT_FOUND)
            await u.tx.update_application(app.id, **release)
            if displaces:
                await u.bump(app.id)
            return Answer(body)
        assert isinstance(decision, Produce)
        n = decision.number
        taken = within_bytes(queued, svc.settings.max_batch_bytes, _size) if decision.with_events else []
        events = merge(taken, svc.settings.event_aggregation)
        body = dumps(page(links.events(n), links.events(n + 1), events, resume=decision.resume))
        await u.tx.store_batch(app.id, n, body, [e.position for e in taken])
        receipts = [e.receipt for e in events if e.receipt is not None]
        unsettled = await messages.settle_delivered(u, receipts)
        release.update(next_batch=n + 1, resume_pending=False)
        if decision.resume:
            release.update(ch_timeout=180, ch_low=15, ch_medium=5)
        await u.tx.update_application(app.id, **release)
        if displaces:
            await u.bump(app.id)
        return Answer(body, tuple(unsettled), len(events), len(receipts))


@retrying
async def abandon(svc: Services, app_id: str, pget_id: str) -> None:
    """The client went away: free the channel now so idleness is measured from this moment."""
    async with unit(svc) as u:
        app = await u.tx.get_application(app_id, for_update=True)
        if app is not None and app.pget_owner == pget_id:
            await u.tx.update_application(app.id, pget_owner=None, pget_released_at=u.now)
