"""Rate limits per user and per address, kept by the ``limits`` library: in process by default,
in Redis when the server has one, so that every node counts against the same budget.

A limit is a ``limits`` string ("20/second;600/minute"); ``hit`` spends from it and answers how
long to wait when the budget is gone. The caller turns that into 429 TooManyRequests with
Retry-After (``core.errors``), or, for sign-in, into the OAuth error.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter


@dataclass
class RateLimits:
    """One limiter for the node; ``rules`` maps a name ("send", "signin-account") to its limits."""

    rules: dict[str, str]
    redis_url: str | None = None
    _parsed: dict[str, list[RateLimitItem]] = field(default_factory=dict, init=False)
    _limiter: MovingWindowRateLimiter = field(init=False)

    def __post_init__(self) -> None:
        storage: Storage
        if self.redis_url:
            storage = RedisStorage(f"async+{self.redis_url}", implementation="redispy", key_prefix="openucwa")
        else:
            storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)
        self._parsed = {name: parse_many(value) for name, value in self.rules.items() if value}

    async def hit(self, key: str, *budgets: tuple[str, int]) -> tuple[str, float] | None:
        """Spends each ``(rule, cost)`` for ``key`` when every window of every rule has room; else
        spends nothing and answers the rule that is out and the seconds until its tightest exhausted
        window frees up (so a message refused for its bytes costs no message count)."""
        for rule, cost in budgets:
            for item in self._parsed.get(rule, ()):
                if not await self._limiter.test(item, rule, key, cost=cost):
                    return rule, await self._retry_after(item, rule, key)
        for rule, cost in budgets:
            for item in self._parsed.get(rule, ()):
                await self._limiter.hit(item, rule, key, cost=cost)
        return None

    async def exceeded(self, rule: str, key: str) -> float | None:
        """Like ``hit`` but spends nothing: for budgets spent only on failure (sign-in)."""
        for item in self._parsed.get(rule, ()):
            if not await self._limiter.test(item, rule, key):
                return await self._retry_after(item, rule, key)
        return None

    async def _retry_after(self, item: RateLimitItem, rule: str, key: str) -> float:
        stats = await self._limiter.get_window_stats(item, rule, key)
        return max(1.0, math.ceil(stats.reset_time - time.time()))
