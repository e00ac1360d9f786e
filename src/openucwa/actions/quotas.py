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
    refused = await svc.limits.hit(user, (SEND, 1), (SEND_BYTES, size))
    if refused is not None:
        svc.metrics.rate_limited(refused[0])
        raise too_many(refused[1], "messages")


async def spend_invitation(svc: Services, user: str) -> None:
    refused = await svc.limits.hit(user, (INVITE, 1))
    if refused is not None:
        svc.metrics.rate_limited(INVITE)
        raise too_many(refused[1], "invitations")
