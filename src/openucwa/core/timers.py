"""What a communication's timers owe at ``now`` (SPEC §15.4, §16.6, §17): pure decisions.

A session (one communication) has one deadline in the store, the earliest of: its outgoing
invitation's timeout, its pending addParticipant invitations' timeouts, and its typing indicators'
expiries. When it passes, the timer use case loads the session's views, asks ``due`` what is owed,
carries it out, and stores ``next_deadline``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .conversation import ConvView, Direction, Invitation, InvitationKind


@dataclass(frozen=True, slots=True)
class ViewTimers:
    view: ConvView
    expired_invitations: tuple[Invitation, ...]  # pending participantInvitations that timed out
    stopped_typing: tuple[str, ...]  # remote users whose typing indicator expired


@dataclass(frozen=True, slots=True)
class SessionTimers:
    timed_out: tuple[ConvView, Invitation] | None  # the unanswered outgoing invitation, if expired
    views: tuple[ViewTimers, ...]  # only views with something due, in the session's order
    next_deadline: float | None  # what is still pending after these are carried out


def due(views: list[ConvView], now: float) -> SessionTimers:
    """An unanswered invitation that timed out ends the whole communication, so it comes alone."""
    deadlines: list[float] = []
    owed: list[ViewTimers] = []
    for v in views:
        inv = v.invitation
        if v.direction is Direction.OUTGOING and inv is not None and not inv.done:
            if now >= inv.expires_at:
                return SessionTimers((v, inv), (), None)
            deadlines.append(inv.expires_at)
        expired = []
        for pinv in v.invitations:
            if pinv.kind is InvitationKind.PARTICIPANT and not pinv.done:
                if now >= pinv.expires_at:
                    expired.append(pinv)
                else:
                    deadlines.append(pinv.expires_at)
        stopped = tuple(who for who, until in v.typing.items() if until <= now)
        deadlines += [t for t in v.typing.values() if t > now]
        if expired or stopped:
            owed.append(ViewTimers(v, tuple(expired), stopped))
    return SessionTimers(None, tuple(owed), min(deadlines) if deadlines else None)
