"""The P-GET use case (SPEC §8): replace, acknowledge, decide, then produce, replay or wait.

Each round is one transaction holding the application row: it applies what ``core.channel.decide``
says and, when told to wait, returns the version to wait past. The caller (server long-poll) waits
on the notifier and comes back for another round; a round that finds its P-GET replaced answers
409 PGetReplaced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import orjson

from ..core import errors
from ..core.channel import Produce, Replay, Resync, Wait, acknowledge, decide, merge, within_bytes
from ..core.commands import PGet
from ..core.errors import UcwaError
from ..core.events import Receipt, StoredEvent, page, resync_page
from ..core.links import AppLinks
from ..core.models import Application
from ..store.interface import Tx
from ..wire import dumps
from . import access, delivery
from .parking import Parked
from .services import Services, Unit, retrying, unit

LEASE_SLACK = 30.0
# Acknowledged batches are deleted a few at a time, when ``lowest`` passes a multiple of this: one
# statement per eight P-GETs instead of one each. Those left are below ``lowest``, so nothing can
# ask for them again (``decide`` answers a resync), and they go with their application.
PRUNE_EVERY = 8
T = TypeVar("T")


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
    """A P-GET's first round runs alone; a later one (woken, or its deadline came) joins the other
    rounds of the same loop turn in one transaction (``_shared``)."""
    if first:
        result = await _round(svc, app_id, user_uri, params, pget_id, started_at, first)
    else:
        result = await _join(svc, _Woken(app_id, user_uri, params, pget_id, started_at))
    if isinstance(result, Answer):
        await answered(svc, result)
    return result


async def answered(svc: Services, answer: Answer) -> bytes:
    """After the COMMIT that produced ``answer``: count it, complete what it could not, and hand
    back the body to send."""
    if answer.events:
        svc.metrics.events_delivered.inc(answer.events)
        svc.metrics.messages_delivered.inc(answer.messages)
    if answer.unsettled:
        await delivery.confirm(svc, list(answer.unsettled))
    return answer.body


@retrying
async def _round(
    svc: Services, app_id: str, user_uri: str, params: PGet, pget_id: str, started_at: float, first: bool
) -> Answer | Hold:
    return await answering(
        svc, lambda u: _apply(svc, u, app_id, user_uri, params, pget_id, started_at, first)
    )


async def _apply(
    svc: Services,
    u: Unit,
    app_id: str,
    user_uri: str,
    params: PGet,
    pget_id: str,
    started_at: float,
    first: bool,
) -> Answer | Hold:
    """One round in ``u``: what ``decide`` says, applied to the application's row and queue."""
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
            if acked.lowest // PRUNE_EVERY != state.lowest // PRUNE_EVERY:
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
    unsettled = await delivery.settle_delivered(u, receipts)
    release.update(next_batch=n + 1, resume_pending=False)
    if decision.resume:
        release.update(ch_timeout=180, ch_low=15, ch_medium=5)
    await u.tx.update_application(app.id, **release)
    if displaces:
        await u.bump(app.id)
    return Answer(body, tuple(unsettled), len(events), len(receipts))


# Answered by the transaction that moved them --------------------------------------------------
# A message's transaction moves the recipient's application; its P-GET, parked on this node, would
# wake after the COMMIT and run a transaction of its own to produce the batch. Instead the message's
# transaction claims it from the parking lot and runs its round itself; the answer goes out once it
# commits. A P-GET's round does the same for the sender's P-GET, whose message its batch completed.

CLAIM_MAX = 4  # a transaction that moved more applications leaves them to the shared rounds


class Claims:
    """The parked P-GETs one transaction answers: ``answer`` inside it, last; then ``deliver``
    after its COMMIT, or ``release`` if it failed (each P-GET then runs its own rounds again)."""

    __slots__ = ("_done", "_svc", "_taken")

    def __init__(self, svc: Services) -> None:
        self._svc = svc
        self._taken: list[tuple[Parked, Answer]] = []
        self._done: list[Parked] = []  # claimed, and left to run their own rounds

    async def answer(self, u: Unit) -> None:
        """Claims and answers the parked P-GETs of the applications ``u`` moved. Not those that
        these rounds move in turn (the sender, whose message a recipient's batch completed): the
        recipient's answer would wait for them."""
        if len(u.wakes) > CLAIM_MAX:
            return
        lot = self._svc.parked
        for app_id in list(u.wakes):
            p = lot.claim(app_id)
            if p is None:
                continue
            self._done.append(p)  # until it has an answer: released whatever happens
            try:
                result = await _apply(
                    self._svc, u, app_id, p.user_uri, p.params, p.pget_id, p.started_at, False
                )
            except UcwaError:  # replaced, or gone: its own round answers that
                continue
            if isinstance(result, Answer):
                self._done.pop()
                self._taken.append((p, result))

    def deliver(self) -> list[asyncio.Future[None]]:
        """Hands each answer over; returns what completes once each request has it in hand."""
        taken = []
        for p, result in self._taken:
            p.answer = result
            if not p.ended:  # its client went away meanwhile: the batch stays for a replay
                p.taken = asyncio.get_running_loop().create_future()
                taken.append(p.taken)
            p.wake()
        self._wake_done()
        return taken

    def release(self) -> None:
        for p, _ in self._taken:
            self._done.append(p)
        self._taken.clear()
        self._wake_done()

    def _wake_done(self) -> None:
        for p in self._done:
            p.claimed = False
            p.wake()
        self._done.clear()


HAND_OVER = 0.05  # seconds a message waits at most for its recipients to take their answers


async def answering(
    svc: Services, work: Callable[[Unit], Awaitable[T]], *, recipients_first: bool = False
) -> T:
    """``work`` in a unit of its own, which then answers the parked P-GETs it moved (``Claims``).

    ``recipients_first``: returns only once those P-GETs have their answers in hand, so that a
    recipient's answer goes out before the sender's (the 201 of a message waits for it).
    """
    claims = Claims(svc)
    try:
        async with unit(svc) as u:
            result = await work(u)
            await claims.answer(u)
    except BaseException:
        claims.release()
        raise
    taken = claims.deliver()
    if recipients_first and taken:
        await asyncio.wait(taken, timeout=HAND_OVER)
    return result


@retrying
async def abandon(svc: Services, app_id: str, pget_id: str) -> None:
    """The client went away: free the channel now so idleness is measured from this moment."""
    async with unit(svc) as u:
        app = await u.tx.get_application(app_id, for_update=True)
        if app is not None and app.pget_owner == pget_id:
            await u.tx.update_application(app.id, pget_owner=None, pget_released_at=u.now)


# Shared rounds -----------------------------------------------------------------------------------
# A commit that moves many applications (a presence change with a thousand watchers, a message to a
# conference) wakes as many parked P-GETs at once. One transaction each made the last of them wait
# for all the others' BEGIN, row lock, queue read and COMMIT; instead the rounds woken in one turn of
# the event loop run in the next turn as one transaction: their rows locked and their queues read
# with one statement each, then each round as usual, answered only after the COMMIT.

SHARED_MAX = 500  # rounds per transaction: bounds how long the row locks are held


@dataclass(frozen=True, slots=True)
class _Woken:
    app_id: str
    user_uri: str
    params: PGet
    pget_id: str
    started_at: float


class _Alone(Exception):
    """The shared transaction failed as a whole: each of its rounds runs again on its own."""


async def _join(svc: Services, woken: _Woken) -> Answer | Hold:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Answer | Hold] = loop.create_future()
    gathered = svc.woken
    gathered.items.append((woken, done))
    if not gathered.scheduled:
        gathered.scheduled = True
        loop.call_soon(_start, svc)
    try:
        return await done
    except _Alone:
        return await _round(
            svc, woken.app_id, woken.user_uri, woken.params, woken.pget_id, woken.started_at, False
        )


def _start(svc: Services) -> None:
    gathered = svc.woken
    items, gathered.items, gathered.scheduled = gathered.items, [], False
    # Two rounds of one application cannot share a transaction (the second must see the first's
    # writes): the later ones run alone.
    seen: set[str] = set()
    for lo in range(0, len(items), SHARED_MAX):
        chunk = []
        for woken, done in items[lo : lo + SHARED_MAX]:
            if woken.app_id in seen:
                done.set_exception(_Alone())
            else:
                seen.add(woken.app_id)
                chunk.append((woken, done))
        task = asyncio.ensure_future(_shared(svc, chunk))
        gathered.running.add(task)
        task.add_done_callback(gathered.running.discard)


async def _shared(svc: Services, chunk: list[tuple[_Woken, asyncio.Future[Answer | Hold]]]) -> None:
    live = [(w, d) for w, d in chunk if not d.done()]
    if len(live) == 1:  # nothing to share: the usual round, without the bulk reads
        live[0][1].set_exception(_Alone())
        return
    outcomes: list[Answer | Hold | UcwaError] = []
    claims = Claims(svc)
    try:
        async with unit(svc) as u:
            ids = [w.app_id for w, _ in live]
            apps = await u.tx.lock_applications(ids)
            queues = await u.tx.queued_events_many(list(apps))
            shared = Unit(tx=cast(Tx, _Prefetched(u.tx, apps, queues)), now=u.now, wakes=u.wakes)
            for w, _ in live:
                try:
                    outcomes.append(
                        await _apply(
                            svc, shared, w.app_id, w.user_uri, w.params, w.pget_id, w.started_at, False
                        )
                    )
                except UcwaError as exc:
                    # Only this round fails. It raises before writing, but for access.load's touch
                    # of last_request_at, which the request did make.
                    outcomes.append(exc)
            await claims.answer(u)  # the senders whose messages these batches completed
    except BaseException as exc:
        claims.release()
        # Each round runs again alone, where a real fault shows as that request's own error.
        for _, done in live:
            if not done.done():
                done.set_exception(_Alone())
        if not isinstance(exc, Exception):
            raise
        return
    claims.deliver()
    for (_, done), outcome in zip(live, outcomes, strict=True):
        if done.done():  # its P-GET went away meanwhile: the batch stays for a replay
            continue
        if isinstance(outcome, UcwaError):
            done.set_exception(outcome)
        else:
            done.set_result(outcome)


class _Prefetched:
    """The shared transaction, answering each round's reads of its own row and queue from the one
    read of all of them (each application appears once, so nothing the round wrote is read back)."""

    def __init__(self, tx: Tx, apps: dict[str, Application], queues: dict[str, list[StoredEvent]]) -> None:
        self._tx = tx
        self._apps = apps
        self._queues = queues

    async def get_application(self, app_id: str, *, for_update: bool = False) -> Application | None:
        return self._apps.get(app_id)

    async def queued_events(self, app_id: str) -> list[StoredEvent]:
        return self._queues.get(app_id, [])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)
