"""Conversation timers (SPEC §15.4, §16.6, §17): unanswered invitations time out, typing expires.

``core.timers.due`` decides what a session owes at its deadline; this module carries it out in the
session's own transaction and stores the next deadline.
"""

from __future__ import annotations

from ..core import reasons
from ..core import sequences as seq
from ..core import timers as core_timers
from ..core.conversation import ConvView, Direction, Invitation
from ..core.machines.invitation import InvitationTrigger
from .conversations import end_participant_invitation, fail, save
from .services import Services, Unit, retrying, unit


async def tick(svc: Services) -> None:
    async with svc.store.transaction() as tx:
        due = await tx.due_sessions(svc.clock())
    for session in due:
        await _tick_session(svc, session)


@retrying
async def _tick_session(svc: Services, session: str) -> None:
    async with unit(svc) as u:
        if not await u.tx.lock_session(session):
            return
        views = await u.tx.session_views(session)
        owed = core_timers.due(views, u.now)
        if owed.timed_out is not None:
            await _time_out(u, views, *owed.timed_out)
            return
        for item in owed.views:
            v = item.view
            for pinv in item.expired_invitations:
                await end_participant_invitation(
                    u, v, pinv, InvitationTrigger.FAIL, reasons.TIMEOUT, reasons.MISSED
                )
            if item.stopped_typing:
                for who in item.stopped_typing:
                    v.typing.pop(who)
                await u.emit(v.app_id, [seq.typing_event(v, who, "deleted") for who in item.stopped_typing])
                await save(u, v)
        await u.tx.set_session_deadline(session, owed.next_deadline)


async def _time_out(u: Unit, views: list[ConvView], sender: ConvView, inv: Invitation) -> None:
    """Nobody answered (SPEC §16.6): Timeout for the sender, Missed for every invited device."""
    await fail(u, sender, inv, InvitationTrigger.FAIL, reasons.TIMEOUT)
    for other in views:
        oinv = other.invitation
        if other.direction is Direction.INCOMING and oinv is not None and not oinv.done:
            await fail(u, other, oinv, InvitationTrigger.FAIL, reasons.MISSED)
    await u.tx.delete_session(sender.session_id)
