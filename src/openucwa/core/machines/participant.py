"""A remote participant as one application's view sees them (SPEC §14.4, §15.6).

Absent until added (``participant`` added); In messaging once their ``participantMessaging`` is
added; Absent again when they leave (``participantMessaging`` and ``participant`` deleted). The
view keeps the lists (``remote``, ``remote_messaging``) the resources render from; this table is
what decides which moves between them are legal.
"""

from __future__ import annotations

from enum import Enum, StrEnum

from . import Machine


class ParticipantState(StrEnum):
    ABSENT = "Absent"
    JOINED = "Joined"
    MESSAGING = "Messaging"


class ParticipantTrigger(Enum):
    ADD = "be added"
    START_MESSAGING = "start messaging"
    LEAVE = "leave"


S, T = ParticipantState, ParticipantTrigger
TRANSITIONS: dict[tuple[ParticipantState, ParticipantTrigger], ParticipantState] = {
    (S.ABSENT, T.ADD): S.JOINED,
    (S.JOINED, T.START_MESSAGING): S.MESSAGING,
    (S.JOINED, T.LEAVE): S.ABSENT,
    (S.MESSAGING, T.LEAVE): S.ABSENT,
}

PARTICIPANT = Machine("participant", ParticipantState, ParticipantTrigger, TRANSITIONS)
