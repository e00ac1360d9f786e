"""Readiness and the database gauges: what ``/readyz`` and ``/metrics`` ask of the store and bus.

Each check is bounded in time: a probe that hangs is worse than one that fails, since the load
balancer's own timeout then decides, and it cannot say which dependency was at fault.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .services import Services

CHECK_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: dict[str, str]  # name → "ok" or what is wrong

    @property
    def ready(self) -> bool:
        return all(v == "ok" for v in self.checks.values())


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {CHECK_TIMEOUT:g} s"
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"unreachable: {type(exc).__name__}{': ' + first[:200] if first else ''}"


async def readiness(svc: Services) -> Readiness:
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            schema = await svc.store.schema_status()
        checks["database"] = "ok"
        checks["migrations"] = (
            "ok" if schema.at_head else f"at {schema.current or 'nothing'}, this release needs {schema.head}"
        )
    except Exception as exc:  # any driver error means "not ready", named in the answer
        checks["database"] = _why(exc)
        checks["migrations"] = "unknown"
    if svc.settings.redis_url:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                await svc.bus.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = _why(exc)
    return Readiness(checks)


async def refresh_gauges(svc: Services) -> None:
    """Database gauges are read per scrape: every node then reports the same, current numbers."""
    svc.metrics.pgets_held.set(svc.notifier.waiting())
    async with asyncio.timeout(CHECK_TIMEOUT):
        activity = await svc.store.activity()
    svc.metrics.applications.set(activity.applications)
    svc.metrics.conversations.set(activity.conversations)
