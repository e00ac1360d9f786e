"""Presence-subscription rules (SPEC §12.7): inputs, durations, limits and expiry, all pure.

Durations are minutes 10–30. Extending adds to the remaining time, capped at 30 minutes from now.
The sweep asks ``due`` what to do with a subscription: warn once 60 s before the end, expire at
the end. Limits are per application: 50 subscriptions and 500 distinct watched users.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

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


def duration(data: Mapping[str, Any]) -> int:
    """``duration`` in minutes, required, an integer 10–30 (strings of digits are accepted)."""
    raw = data.get("duration")
    if raw is None or raw == "":
        raise errors.invalid({"duration": "required"}, "A duration in minutes is required.")
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise errors.invalid({"duration": "a whole number of minutes"})
    if isinstance(raw, float):
        raw = int(raw)
    try:
        value = int(raw) if isinstance(raw, int) else int(str(raw).strip())
    except ValueError:
        raise errors.invalid({"duration": "not a number"}) from None
    if not MIN_MINUTES <= value <= MAX_MINUTES:
        raise errors.invalid({"duration": f"between {MIN_MINUTES} and {MAX_MINUTES} minutes"})
    return value


def user_of(uri: Any) -> str | None:
    """``sip:lenea@contoso.com`` (or a bare address) → ``lenea@contoso.com``; None if malformed."""
    if not isinstance(uri, str):
        return None
    text = uri.strip().lower()
    if text.startswith("sip:"):
        text = text[4:]
    local, at, domain = text.partition("@")
    if not at or not local or not domain or any(c in text for c in " /?#,"):
        return None
    return text


def uris(data: Mapping[str, Any], name: str) -> list[str]:
    """A required, non-empty list of SIP URIs, deduplicated in order (malformed ones are a 400)."""
    raw = data.get(name.lower())
    if not isinstance(raw, list) or not raw:
        raise errors.invalid({name: "a non-empty list of SIP URIs"})
    out: list[str] = []
    for item in raw:
        user = user_of(item)
        if user is None:
            raise errors.invalid({name: f"not a SIP URI: {str(item)[:100]}"})
        if user not in out:
            out.append(user)
    return out


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
