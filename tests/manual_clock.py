"""A clock that moves only when a test says so: timers fire and sleeps return on ``advance``."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable

from openucwa.clock import Clock


class ManualTimer:
    __slots__ = ("cancelled", "fn", "when")

    def __init__(self, when: float, fn: Callable[[], object]) -> None:
        self.when = when
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock(Clock):
    __slots__ = ("_order", "_timers", "now", "sleeps_started")

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.sleeps_started = 0  # how many times someone began to sleep (a loop went round)
        self._timers: list[tuple[float, int, ManualTimer]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    def call_at(self, when: float, fn: Callable[[], object]) -> ManualTimer:
        timer = ManualTimer(when, fn)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        self.sleeps_started += 1
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.call_at(self.now + seconds, lambda: fut.done() or fut.set_result(None))
        await fut

    def advance(self, seconds: float) -> None:
        """Moves time forward, firing every timer that comes due, in order, at its own time."""
        target = self.now + seconds
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                self.now = max(self.now, when)
                timer.fn()
        self.now = target

    async def next_sleep(self, started: int) -> None:
        """Waits (a bounded while) until a sleeper went round its loop once more since ``started``."""
        async with asyncio.timeout(10):
            while self.sleeps_started <= started:  # noqa: ASYNC110 - a count, not an event
                await asyncio.sleep(0)

    def pending(self) -> int:
        return sum(1 for _, _, t in self._timers if not t.cancelled)
