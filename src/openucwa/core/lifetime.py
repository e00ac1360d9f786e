"""When an application resets or expires (SPEC §7.5), decided from its record and ``now``.

A pending P-GET (an unexpired lease) keeps an application alive. Otherwise idleness is measured
from the last released P-GET once the channel was used, and from the last request before that.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .models import Application, AppStatus


class Verdict(Enum):
    KEEP = "keep"
    RESET = "reset"  # transient state dropped; next P-GET answers `resume`
    EXPIRE = "expire"  # 410 InactiveApplicationExpired for the tombstone period
    PURGE = "purge"  # tombstone over: the row goes, later requests get 404 ApplicationNotFound


@dataclass(frozen=True, slots=True)
class Timers:
    idle: float
    transient: float
    tombstone: float


def verdict(app: Application, now: float, t: Timers) -> Verdict:
    if app.status != AppStatus.ACTIVE:
        return Verdict.PURGE if (app.ended_at or 0) + t.tombstone <= now else Verdict.KEEP
    if app.pget_pending(now):
        return Verdict.KEEP
    # Once the channel is in use only P-GETs keep the application alive, other requests do not.
    released = app.pget_released_at
    since = released if app.used_channel and released is not None else app.last_request_at
    if now - since >= t.idle:
        return Verdict.EXPIRE
    if app.used_channel and not app.resume_pending and now - since >= t.transient:
        return Verdict.RESET
    return Verdict.KEEP
