"""The reaper: applies ``core.lifetime`` verdicts to every application, periodically."""

from __future__ import annotations

import logging

from ..core.lifetime import Timers, Verdict, verdict
from ..core.models import AppStatus
from . import applications, delivery, leaving, subscriptions
from . import timers as conversation_timers
from .services import Services, unit

log = logging.getLogger(__name__)


def timers(svc: Services) -> Timers:
    s = svc.settings
    return Timers(
        idle=s.app_idle_timeout, transient=s.transient_state_timeout, tombstone=s.tombstone_lifetime
    )


async def sweep(svc: Services) -> dict[Verdict, int]:
    """One pass; each application is re-read under its row lock before anything is changed."""
    counts = dict.fromkeys(Verdict, 0)
    t = timers(svc)
    async with svc.store.transaction() as tx:
        candidates = await tx.applications_to_review(svc.clock(), t)
        await tx.delete_expired_tokens(svc.clock())
    for seen in candidates:
        if verdict(seen, svc.clock(), t) is Verdict.KEEP:
            continue
        async with unit(svc) as u:
            app = await u.tx.get_application(seen.id, for_update=True)
            if app is None:
                continue
            v = verdict(app, u.now, t)
            counts[v] += 1
            if v is Verdict.EXPIRE:
                await applications.end(u, app, AppStatus.EXPIRED)
            elif v is Verdict.RESET:
                await leaving.end_for_application(u, app)
                await subscriptions.end_for_application(u, app)  # transient state (SPEC §12.8)
                await u.tx.discard_queued(app.id)
                await u.tx.update_application(app.id, resume_pending=True)
            elif v is Verdict.PURGE:
                await u.tx.delete_application(app.id)
        if v is Verdict.PURGE:
            svc.notifier.forget(seen.id)
    await conversation_timers.tick(svc)
    await subscriptions.tick(svc)
    await delivery.expire_deliveries(svc)
    return counts


async def run(svc: Services) -> None:
    while True:
        await svc.clock.sleep(svc.settings.reaper_interval)
        try:
            await sweep(svc)
        except Exception:  # a failed sweep must not stop future ones
            log.exception("application sweep failed")
