"""Per-node registry of pending P-GETs waiting for their application to move, or for a deadline.

Theory of operation
-------------------
A waiter registers a wake callback with the version of its application it last read and a time
limit. ``notify(app, v)`` wakes (``wake(True)``) and drops every waiter registered with an older
version; the limit passing wakes it with ``wake(False)``. ``add`` refuses to register when the
version already moved, so a wake can never fall between "read the store" and "start waiting". A
wake carries no data: the woken request re-reads the store, so lost or duplicated wakes only cost a
read. Waiters leave on wake, deadline or ``discard`` (client gone), so an idle node holds nothing but
one small entry per request actually pending.

The versions it has seen are what ``add`` checks; they only need to outlive the moment between a
round reading its application and registering (milliseconds). So they are kept in two generations
of ``VERSION_MEMORY`` seconds each, and a version no wake has raised for that long is forgotten: a
node running for months remembers the applications that moved lately, not every one that ever did
(nor those that another node purged, which this node's reaper never ``forget``s).

Why callbacks and one shared timer rather than a future, a task or a loop timer per waiter: a node
holds thousands of idle P-GETs, and whatever each one owns is paid for as long as it is held
(bench/idle_pgets.py; a uvloop timer alone is about 0.5 KB). The deadlines live in one heap served by
a single timer of the node's clock. A discarded waiter's heap entry stays until it comes due or the heap is
compacted, but it no longer references the wake callback (nor, through it, the request).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from ..clock import Clock, Timer

VERSION_MEMORY = 60.0  # seconds a version is remembered at least after its last wake

Wake = Callable[[bool], object]
"""Called once: True when the application moved (or on ``notify_all``), False at the deadline."""


class Waiter:
    """One registration, as returned by ``Notifier.add`` and given back to ``discard``."""

    __slots__ = ("after", "app_id", "wake", "when")

    def __init__(self, app_id: str, after: int, when: float, wake: Wake) -> None:
        self.app_id = app_id
        self.after = after
        self.when = when
        self.wake: Wake | None = wake  # None once woken or discarded: the heap entry is stale

    def __lt__(self, other: Waiter) -> bool:  # heap order
        return self.when < other.when


class Notifier:
    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or Clock()
        # app id → the newest version a wake said it passed: this generation's, and the last one's.
        self._versions: dict[str, int] = {}
        self._older: dict[str, int] = {}
        self._generation_ends = self._clock() + VERSION_MEMORY
        # app id → its live waiters; no entry for an application nobody awaits.
        self._waiters: dict[str, list[Waiter]] = {}
        self._deadlines: list[Waiter] = []  # heap by ``when``, stale entries included
        self._live = 0
        self._timer: Timer | None = None
        self._timer_at = 0.0

    def notify(self, app_id: str, version: int) -> None:
        if version <= self._version(app_id):
            return
        now = self._clock()
        if now >= self._generation_ends:
            self._older, self._versions = self._versions, {}
            self._generation_ends = now + VERSION_MEMORY
        self._versions[app_id] = version
        waiters = self._waiters.get(app_id)
        if not waiters:
            return
        due = [w for w in waiters if version > w.after]
        if not due:
            return
        if len(due) == len(waiters):
            del self._waiters[app_id]
        else:
            waiters[:] = [w for w in waiters if version <= w.after]
        for w in due:
            self._fire(w, True)
        self._compact()

    def notify_all(self) -> None:
        """After a bus reconnect nobody knows what was missed: everyone re-reads."""
        everyone = [w for waiters in self._waiters.values() for w in waiters]
        self._waiters.clear()
        self._deadlines.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for w in everyone:
            self._fire(w, True)

    def forget(self, app_id: str) -> None:
        """An ended application needs no version memory (its waiters were woken already)."""
        self._versions.pop(app_id, None)
        self._older.pop(app_id, None)

    def remembered(self) -> int:
        """How many applications' versions are kept (bounded by those that moved lately)."""
        return len(self._versions.keys() | self._older.keys())

    def _version(self, app_id: str) -> int:
        version = self._versions.get(app_id)
        return self._older.get(app_id, -1) if version is None else version

    def add(self, app_id: str, after: int, within: float, wake: Wake) -> Waiter | None:
        """Call ``wake`` once: when the application passes version ``after``, or ``within`` seconds
        from now. None (and nothing registered) when it already has passed it."""
        if self._version(app_id) > after:
            return None
        w = Waiter(app_id, after, self._clock() + within, wake)
        waiters = self._waiters.get(app_id)
        if waiters is None:
            self._waiters[app_id] = [w]
        else:
            waiters.append(w)
        self._live += 1
        heapq.heappush(self._deadlines, w)
        if self._timer is None or w.when < self._timer_at:
            self._arm()
        return w

    def discard(self, waiter: Waiter) -> None:
        """Drop a registration (no-op when it was already woken)."""
        if waiter.wake is None:
            return
        waiter.wake = None
        self._live -= 1
        waiters = self._waiters[waiter.app_id]
        if len(waiters) == 1:
            del self._waiters[waiter.app_id]
        else:
            waiters.remove(waiter)
        self._compact()

    def waiting_apps(self) -> list[str]:
        """The applications someone waits for on this node."""
        return list(self._waiters)

    def waiting(self) -> int:
        return sum(len(w) for w in self._waiters.values())

    def _fire(self, w: Waiter, moved: bool) -> None:
        wake, w.wake = w.wake, None
        assert wake is not None
        self._live -= 1
        wake(moved)

    def _compact(self) -> None:
        """Drops stale heap entries once they are most of it (asyncio does the same with its timers)."""
        if len(self._deadlines) > 2 * self._live + 64:
            self._deadlines = [w for w in self._deadlines if w.wake is not None]
            heapq.heapify(self._deadlines)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._deadlines and self._deadlines[0].wake is None:
            heapq.heappop(self._deadlines)
        if self._deadlines:
            self._timer_at = self._deadlines[0].when
            self._timer = self._clock.call_at(self._timer_at, self._expire)

    def _expire(self) -> None:
        self._timer = None
        now = self._clock()
        deadlines = self._deadlines
        try:
            while deadlines and deadlines[0].when <= now:
                w = heapq.heappop(deadlines)
                if w.wake is None:
                    continue
                waiters = self._waiters[w.app_id]
                if len(waiters) == 1:
                    del self._waiters[w.app_id]
                else:
                    waiters.remove(w)
                self._fire(w, False)
        finally:  # a failing wake must not leave the other deadlines without a timer
            self._arm()
