"""The explicit dependencies every use case receives: no locator, no globals."""

from __future__ import annotations

import asyncio
import functools
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from ..bus.interface import Bus
from ..bus.notifier import Notifier
from ..clock import Clock
from ..config import Settings
from ..core.events import Event
from ..metrics import Metrics
from ..ratelimit import RateLimits
from ..store.interface import RetryableError, Store, Tx
from .parking import ParkingLot

if TYPE_CHECKING:
    from ..directory.client import Directory


@dataclass
class Gathered:
    """Work that arrived during one turn of the event loop, to be done together in the next one
    (the P-GET rounds a commit woke: see ``events.pget_round``)."""

    items: list[Any] = field(default_factory=list)
    scheduled: bool = False
    running: set[asyncio.Task[None]] = field(default_factory=set)  # the loop keeps only weak ones


@dataclass(frozen=True)
class Services:
    store: Store
    bus: Bus
    notifier: Notifier
    settings: Settings
    clock: Clock = field(default_factory=Clock)
    limits: RateLimits = field(default_factory=lambda: RateLimits({}))  # none unless given
    random_bytes: Callable[[int], bytes] = secrets.token_bytes
    directory: Directory | None = None  # the company directory, when LDAP_URL is set
    metrics: Metrics = field(default_factory=Metrics)
    woken: Gathered = field(default_factory=Gathered)
    parked: ParkingLot = field(default_factory=ParkingLot)  # P-GETs held on this node


@dataclass
class Unit:
    """One transaction plus the wakes it owes once committed."""

    tx: Tx
    now: float
    wakes: dict[str, int] = field(default_factory=dict)

    async def emit(self, app_id: str, events: Sequence[Event]) -> None:
        if events:
            self.wakes[app_id] = await self.tx.append_events(app_id, events, self.now)

    async def bump(self, app_id: str) -> int:
        version = await self.tx.bump_version(app_id)
        self.wakes[app_id] = version
        return version


P = ParamSpec("P")
R = TypeVar("R")
ATTEMPTS = 4


def retrying(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Runs a use case again when the database chose it as a deadlock victim.

    Actions that lock several rows (a session, then each partner's application) can meet another
    action locking them in the other order; PostgreSQL then aborts one of them, which changed
    nothing, so running it again is safe. SQLite serialises transactions and never gets here.
    """

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(ATTEMPTS):
            try:
                return await fn(*args, **kwargs)
            except RetryableError:
                if attempt == ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    return run


class _UnitScope:
    """Publish after commit: a woken reader must find what woke it (Zulip's on_commit rule).

    A class rather than a generator-based context manager: every request opens one or two.
    """

    __slots__ = ("_now", "_started", "_svc", "_tx", "_unit")

    def __init__(self, svc: Services, now: float | None) -> None:
        self._started = time.perf_counter()  # for openucwa_db_transaction_seconds
        self._svc = svc
        self._now = svc.clock() if now is None else now
        self._tx: AbstractAsyncContextManager[Tx] | None = None
        self._unit: Unit | None = None

    async def __aenter__(self) -> Unit:
        self._tx = self._svc.store.transaction()
        self._unit = Unit(tx=await self._tx.__aenter__(), now=self._now)
        return self._unit

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        assert self._tx is not None and self._unit is not None  # __aenter__ ran
        await self._tx.__aexit__(kind, exc, tb)
        self._svc.metrics.db_seconds.observe(time.perf_counter() - self._started)
        if exc is None:
            for app_id, version in self._unit.wakes.items():
                await self._svc.bus.publish(app_id, version)


def unit(svc: Services, now: float | None = None) -> _UnitScope:
    return _UnitScope(svc, now)
