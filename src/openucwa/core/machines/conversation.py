"""A conversation's state as one application sees it (SPEC §14.2, §17).

An outgoing conversation starts Connecting, an incoming one Incoming. A two-party conversation is
Connected; the first addParticipant (or joining one) makes it Conferenced. Disconnected is final:
the view is torn down and deleted in the same transaction.
"""

from __future__ import annotations

from enum import Enum, StrEnum

from . import Machine


class ConversationState(StrEnum):
    CONNECTING = "Connecting"
    INCOMING = "Incoming"
    CONNECTED = "Connected"
    CONFERENCED = "Conferenced"
    DISCONNECTED = "Disconnected"


class ConversationTrigger(Enum):
    CONNECT = "connect"  # the invitation that created the view was accepted
    JOIN = "join"  # the invitee of an addParticipant accepted: straight into the conference
    ESCALATE = "escalate"  # a participant is being added to a two-party conversation
    END = "end"  # the local side left, the remote side left, or the invitation failed


S, T = ConversationState, ConversationTrigger
TRANSITIONS: dict[tuple[ConversationState, ConversationTrigger], ConversationState] = {
    (S.CONNECTING, T.CONNECT): S.CONNECTED,
    (S.INCOMING, T.CONNECT): S.CONNECTED,
    (S.INCOMING, T.JOIN): S.CONFERENCED,
    (S.CONNECTED, T.ESCALATE): S.CONFERENCED,
    **{(s, T.END): S.DISCONNECTED for s in S if s is not S.DISCONNECTED},
}

CONVERSATION = Machine("conversation", ConversationState, ConversationTrigger, TRANSITIONS)
LIVE = frozenset({S.CONNECTED, S.CONFERENCED})
