"""Presence-subscription rules (SPEC §12.7): inputs, durations, limits and expiry, all pure.

Durations are minutes 10–30. Extending adds to the remaining time, capped at 30 minutes from now.
The sweep asks ``due`` what to do with a subscription: warn once 60 s before the end, expire at
the end. Limits are per application: 50 subscriptions and 500 distinct watched users.
"""

from __future__ import annotations

import enum

from . import errors
from .errors import UcwaError
from .models import PresenceSubscription

MIN_MINUTES = 10
MAX_MINUTES = 30
WARN_BEFORE = 60.0
MAX_SUBSCRIPTIONS = 50
MAX_CONTACTS = 500


class Due(enum.Enum):
    KEEP = "keep"
    WARN = "warn"
    EXPIRE = "expire"


def expiry(now: float, minutes: int, minute: float = 60.0) -> float:
    return now + minutes * minute


def extended(sub: PresenceSubscription, now: float, minutes: int, minute: float = 60.0) -> float:
    """The remaining time plus ``minutes``, never more than 30 minutes from now."""
    remaining = max(0.0, sub.expires_at - now)
    return now + min(remaining + minutes * minute, MAX_MINUTES * minute)


def due(sub: PresenceSubscription, now: float, minute: float = 60.0) -> Due:
    """EXPIRE at the end; WARN once, ``WARN_BEFORE`` (one minute) before it; else KEEP."""
    if now >= sub.expires_at:
        return Due.EXPIRE
    if not sub.warned and now >= sub.expires_at - WARN_BEFORE * minute / 60.0:
        return Due.WARN
    return Due.KEEP


def check_limits(subscriptions: int, watched: set[str], adding: list[str]) -> None:
    """403 LimitExceeded when one more subscription or the new contacts would pass a limit."""
    if subscriptions > MAX_SUBSCRIPTIONS:
        raise UcwaError(errors.LIMIT_EXCEEDED, f"At most {MAX_SUBSCRIPTIONS} presence subscriptions.")
    if len(watched | set(adding)) > MAX_CONTACTS:
        raise UcwaError(errors.LIMIT_EXCEEDED, f"At most {MAX_CONTACTS} watched contacts.")
