"""Conversations as one application sees them: the records the store keeps (SPEC §14–§16).

Each participant's application holds its own *view* of a communication (its own ids and hrefs); the
views of one communication share a ``session_id`` and a ``threadId``. A view records exactly what
that application was told, so rendering (``core.resources.conversation``) needs nothing else:
states, who is present, who is typing, and the invitations it holds. Every state change goes
through the tables in ``core.machines``; the methods here are the only writers of those fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from .links import ConvLinks
from .machines.conversation import CONVERSATION, LIVE, ConversationState, ConversationTrigger
from .machines.invitation import INVITATION, InvitationState, InvitationTrigger
from .machines.message import MessageStatus
from .machines.messaging import MESSAGING, MessagingState, MessagingTrigger
from .machines.participant import PARTICIPANT, ParticipantState, ParticipantTrigger


class Direction(StrEnum):
    OUTGOING = "Outgoing"
    INCOMING = "Incoming"


class InvitationKind(StrEnum):
    MESSAGING = "messaging"  # messagingInvitation: the invitation that created a view
    PARTICIPANT = "participant"  # participantInvitation: the inviter's record of an addParticipant


@dataclass(slots=True)
class Invitation:
    id: str
    direction: Direction
    state: InvitationState = InvitationState.CONNECTING
    operation_id: str | None = None
    session_context: str | None = None
    to_uri: str = ""
    from_uri: str = ""
    message: str | None = None  # the first message, as text
    message_type: str = "text/plain"
    answered: bool = False  # incoming: accept was received (links removed)
    started_at: float = 0.0
    expires_at: float = 0.0  # unanswered by then: timeout (fixed at creation, whatever node checks)
    kind: InvitationKind = InvitationKind.MESSAGING

    @property
    def done(self) -> bool:
        return self.state is not InvitationState.CONNECTING

    def step(self, trigger: InvitationTrigger, message: str | None = None) -> None:
        self.state = INVITATION.step(self.state, trigger, message)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Invitation:
        if doc.keys() <= _INVITATION_FIELDS:
            d = dict(doc)
        else:  # older documents carry "done"
            d = {k: v for k, v in doc.items() if k in _INVITATION_FIELDS}
        d["direction"] = _DIRECTIONS[d["direction"]]
        d["state"] = _INVITATION_STATES[d.get("state", InvitationState.CONNECTING)]
        d["kind"] = _INVITATION_KINDS[d.get("kind", InvitationKind.MESSAGING)]
        return cls(**d)


_INVITATION_FIELDS = frozenset(f.name for f in fields(Invitation))

# Members by value: a conversation's document is decoded several times per message (about a twentieth
# of the server's work under load), and looking a member up in a dict costs a tenth of calling the
# enum. A StrEnum member hashes and compares as its value, so either finds it.
_DIRECTIONS = {m.value: m for m in Direction}
_INVITATION_STATES = {m.value: m for m in InvitationState}
_INVITATION_KINDS = {m.value: m for m in InvitationKind}
_CONVERSATION_STATES = {m.value: m for m in ConversationState}
_MESSAGING_STATES = {m.value: m for m in MessagingState}


@dataclass(slots=True)
class ConvView:
    id: str
    app_id: str
    user_uri: str
    session_id: str
    thread_id: str
    direction: Direction
    subject: str | None = None
    importance: str = "Normal"
    state: ConversationState = ConversationState.CONNECTING
    messaging: MessagingState = MessagingState.CONNECTING
    messaging_evented: bool = False
    formats: tuple[str, ...] = ("Plain",)
    remote: list[str] = field(default_factory=list)  # remote participants present
    remote_messaging: list[str] = field(default_factory=list)  # … with participantMessaging
    local_messaging: bool = False
    typing: dict[str, float] = field(default_factory=dict)  # remote user → typing until
    names: dict[str, str] = field(default_factory=dict)
    invitations: list[Invitation] = field(default_factory=list)
    next_message: int = 1
    created_at: float = 0.0
    ended: bool = False

    @property
    def links(self) -> ConvLinks:
        return ConvLinks(self.app_id, self.id)

    @property
    def live(self) -> bool:
        return self.state in LIVE

    def name(self, user: str) -> str:
        return self.names.get(user, user)

    @property
    def invitation(self) -> Invitation | None:
        """The messaging invitation that created this view."""
        return next((i for i in self.invitations if i.kind is InvitationKind.MESSAGING), None)

    def find_invitation(self, inv_id: str) -> Invitation | None:
        return next((i for i in self.invitations if i.id == inv_id), None)

    def step(self, trigger: ConversationTrigger) -> None:
        self.state = CONVERSATION.step(self.state, trigger)

    def step_messaging(self, trigger: MessagingTrigger, message: str | None = None) -> None:
        self.messaging = MESSAGING.step(self.messaging, trigger, message)

    def participant_state(self, user: str) -> ParticipantState:
        if user in self.remote_messaging:
            return ParticipantState.MESSAGING
        return ParticipantState.JOINED if user in self.remote else ParticipantState.ABSENT

    def add_participant(self, user: str) -> None:
        PARTICIPANT.step(self.participant_state(user), ParticipantTrigger.ADD)
        self.remote.append(user)

    def start_participant_messaging(self, user: str) -> None:
        PARTICIPANT.step(self.participant_state(user), ParticipantTrigger.START_MESSAGING)
        self.remote_messaging.append(user)

    def remove_participant(self, user: str) -> ParticipantState:
        """The participant leaves; returns the state they left from (what the events must undo)."""
        was = self.participant_state(user)
        PARTICIPANT.step(was, ParticipantTrigger.LEAVE)
        if was is ParticipantState.MESSAGING:
            self.remote_messaging.remove(user)
        self.remote.remove(user)
        return was

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ConvView:
        d = dict(doc)
        d["invitations"] = [Invitation.from_doc(i) for i in d.get("invitations", ())]
        d["formats"] = tuple(d.get("formats", ("Plain",)))
        d["direction"] = _DIRECTIONS[d["direction"]]
        d["state"] = _CONVERSATION_STATES[d.get("state", ConversationState.CONNECTING)]
        d["messaging"] = _MESSAGING_STATES[d.get("messaging", MessagingState.CONNECTING)]
        return cls(**d)


@dataclass(frozen=True, slots=True)
class Message:
    conv_id: str
    n: int
    direction: Direction
    sender: str
    content_type: str  # text/plain or text/html
    text: str
    timestamp_ms: int
    operation_id: str | None = None
    status: MessageStatus = MessageStatus.SUCCEEDED
    failed: tuple[str, ...] = ()
