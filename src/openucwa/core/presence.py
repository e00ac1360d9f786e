"""A user's availability, derived from what was published and the user's applications (SPEC §11.5).

Idle/away adjustment from reportMyActivity is part of the presence model proper and is computed
here too, so every reader (me/presence, contacts, watchers) agrees on one value.
"""

from __future__ import annotations

from collections.abc import Sequence

from .commands import APPEAR_OFFLINE
from .models import Application, Presence

IDLE_FORMS = {"Online": "IdleOnline", "Busy": "IdleBusy"}


def availability(pub: Presence, apps: Sequence[Application], now: float, away_after: float = 300.0) -> str:
    available = [a for a in apps if a.available]
    if not available:
        return "Offline"
    base = pub.availability
    if base is None:
        latest = max(available, key=lambda a: (a.last_activity_at or 0.0, a.created_at))
        base = latest.sign_in_as or "Online"
    if base == "Offwork":
        return "Away"
    if base in IDLE_FORMS:
        idle_since = [(a.last_activity_at or a.created_at) + a.inactive_timeout * 60 for a in available]
        if all(now >= t for t in idle_since):
            return "Away" if all(now >= t + away_after for t in idle_since) else IDLE_FORMS[base]
    return base


def activity(pub: Presence, apps: Sequence[Application]) -> str | None:
    if pub.activity:
        return pub.activity
    if pub.availability == "Offwork" or (
        pub.availability is None and any(a.available and a.sign_in_as == "Offwork" for a in apps)
    ):
        return "off-work"
    return None


def last_active(pub: Presence, apps: Sequence[Application]) -> float | None:
    """The latest of a published change and any available application's reported activity."""
    times = [pub.last_active] + [a.last_activity_at for a in apps if a.available]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def reachable(pub: Presence, apps: Sequence[Application]) -> list[Application]:
    """The applications an invitation to this user goes to; none while the user appears offline."""
    if pub.availability == APPEAR_OFFLINE:
        return []
    return [a for a in apps if a.available and "Messaging" in a.supported_modalities]


def messaging(pub: Presence, apps: Sequence[Application]) -> bool:
    """Whether someone inviting this user to IM reaches at least one application (SPEC §12.3)."""
    return bool(reachable(pub, apps))
