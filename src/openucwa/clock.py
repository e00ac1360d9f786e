"""The one source of time outside ``core``: wall-clock seconds, timers and sleeps.

Services, the notifier and the reaper all take the same ``Clock``; core only ever receives ``now``
as an argument. Tests pass a clock they move by hand (``tests/manual_clock.py``), so expiry,
deadlines and timeouts are tested by advancing time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock:
    """Real time. Calling the clock gives seconds since the epoch, as stored in the database."""

    __slots__ = ()

    def __call__(self) -> float:
        return time.time()

    def call_at(self, when: float, fn: Callable[[], object]) -> Timer:
        """Run ``fn`` on the running loop once ``clock() >= when``."""
        return asyncio.get_running_loop().call_later(max(0.0, when - time.time()), fn)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
