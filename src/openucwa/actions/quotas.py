"""What one user may spend per window (``ratelimit.RateLimits``): messages, their bytes,
invitations. Past it: 429 TooManyRequests with Retry-After, and nothing was done."""

from __future__ import annotations

from ..config import Settings
from ..core import errors
from ..core.errors import UcwaError
from .services import Services

SEND, SEND_BYTES, INVITE = "send", "send-bytes", "invite"
SIGNIN_ACCOUNT, SIGNIN_ADDRESS = "signin-account", "signin-address"


def rules(s: Settings) -> dict[str, str]:
    return {
        SEND: s.message_rate,
        SEND_BYTES: s.message_bytes_rate,
        INVITE: s.invitation_rate,
        SIGNIN_ACCOUNT: s.signin_account_failures,
        SIGNIN_ADDRESS: s.signin_address_failures,
    }


def too_many(seconds: float, what: str) -> UcwaError:
    return UcwaError(
        errors.TOO_MANY_REQUESTS,
        f"Too many {what}; try again later.",
        headers={"Retry-After": str(int(seconds))},
    )


async def spend_message(svc: Services, user: str, size: int) -> None:
    """Both budgets are checked before either is spent: a message refused for its bytes costs no
    message count, and one refused for the count costs no bytes."""
    budgets = ((SEND, 1), (SEND_BYTES, size))
    for rule, cost in budgets:
        wait = await svc.limits.exceeded(rule, user, cost)
        if wait is not None:
            svc.metrics.rate_limited(rule)
            raise too_many(wait, "messages")
    for rule, cost in budgets:
        wait = await svc.limits.hit(rule, user, cost)
        if wait is not None:  # a concurrent message took the rest in between
            svc.metrics.rate_limited(rule)
            raise too_many(wait, "messages")


async def spend_invitation(svc: Services, user: str) -> None:
    wait = await svc.limits.hit(INVITE, user)
    if wait is not None:
        svc.metrics.rate_limited(INVITE)
        raise too_many(wait, "invitations")
