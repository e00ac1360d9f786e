"""messagingInvitation and participantInvitation states (SPEC §16, §17).

An invitation is pending while Connecting; every other state is final and is reported once, in the
invitation's ``completed`` event (Success for Connected, Failure with a reason for the rest).
"""

from __future__ import annotations

from enum import Enum, StrEnum

from . import Machine


class InvitationState(StrEnum):
    CONNECTING = "Connecting"
    CONNECTED = "Connected"
    DECLINED = "Declined"
    CANCELLED = "Cancelled"
    FAILED = "Failed"


class InvitationTrigger(Enum):
    ACCEPT = "accept"  # the invitee (or, for the inviter, the remote side) accepted
    DECLINE = "decline"  # an invitee declined, locally or on every device
    CANCEL = "cancel"  # the inviter withdrew it
    FAIL = "fail"  # not found, unreachable, answered elsewhere, timed out, missed


_C = InvitationState.CONNECTING
TRANSITIONS = {
    (_C, InvitationTrigger.ACCEPT): InvitationState.CONNECTED,
    (_C, InvitationTrigger.DECLINE): InvitationState.DECLINED,
    (_C, InvitationTrigger.CANCEL): InvitationState.CANCELLED,
    (_C, InvitationTrigger.FAIL): InvitationState.FAILED,
}

INVITATION = Machine("invitation", InvitationState, InvitationTrigger, TRANSITIONS)
