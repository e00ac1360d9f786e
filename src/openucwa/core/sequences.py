"""The event sequences of a conversation view (SPEC §18.5, §18.6), in the order clients rely on.

Each function renders from the view as it is *now*, so callers change the view first and then ask
for the events describing the change; the embedded resources are then exactly what a GET would show.
"""

from __future__ import annotations

from .conversation import ConvView, Invitation, InvitationKind, Message
from .events import Event, Priority, Receipt
from .hal import Json
from .links import AppLinks
from .machines.conversation import ConversationTrigger
from .machines.invitation import InvitationState
from .machines.message import MessageStatus
from .machines.messaging import MessagingState, MessagingTrigger
from .resources import conversation as res

H = Priority.HIGH
CALL_TERMINATED = {
    "code": "Informational",
    "subcode": "CallTerminated",
    "message": "The other participant left the conversation.",
}


def _comm(v: ConvView) -> tuple[str, str]:
    return "communication", AppLinks(v.app_id).communication()


def _conv(v: ConvView) -> tuple[str, str]:
    return "conversation", v.links.conversation()


def invitation_event(v: ConvView, inv: Invitation, kind: str, *, reason: Json | None = None) -> Event:
    """messagingInvitation or participantInvitation events (the operation's own life)."""
    status = None
    if kind == "completed":
        status = "Success" if inv.state is InvitationState.CONNECTED else "Failure"
    if inv.kind is InvitationKind.PARTICIPANT:
        rel, body = "participantInvitation", res.participant_invitation(v, inv)
    else:
        rel, body = "messagingInvitation", res.invitation(v, inv)
    return Event(
        *_comm(v),
        kind,
        rel,
        body["_links"]["self"]["href"],
        H,
        embedded=body,
        status=status,
        reason=reason,
    )


def conversation_event(v: ConvView, kind: str) -> Event:
    return Event(
        *_comm(v),
        kind,
        "conversation",
        v.links.conversation(),
        H,
        embedded=None if kind == "deleted" else res.conversation(v),
    )


def messaging_event(v: ConvView, *, reason: Json | None = None) -> Event:
    v.messaging_evented = True
    return Event(
        *_conv(v), "updated", "messaging", v.links.messaging(), H, embedded=res.messaging(v), reason=reason
    )


def local_participant_event(v: ConvView, kind: str) -> Event:
    c = v.links
    emb = res.local_participant(v) if kind == "added" else None
    return Event(
        *_conv(v),
        kind,
        "localParticipant",
        c.participant(v.user_uri),
        H,
        link_title=v.name(v.user_uri),
        embedded=emb,
    )


def participant_event(v: ConvView, user: str, kind: str, *, in_: Json | None = None) -> Event:
    return Event(
        *_conv(v), kind, "participant", v.links.participant(user), H, link_title=v.name(user), in_=in_
    )


def participant_messaging_event(v: ConvView, user: str, kind: str) -> Event:
    c = v.links
    local = user == v.user_uri
    in_ = {
        "rel": "localParticipant" if local else "participant",
        "href": c.participant(user),
        "title": v.name(user),
    }
    emb = res.participant_messaging(v, user) if local and kind == "added" else None
    return Event(
        *_conv(v), kind, "participantMessaging", c.participant_messaging(user), H, in_=in_, embedded=emb
    )


def typing_event(v: ConvView, user: str, kind: str) -> Event:
    in_ = {"rel": "typingParticipants", "href": v.links.typing_participants()}
    return participant_event(v, user, kind, in_=in_)


def message_event(
    v: ConvView, m: Message, *, receipt: Receipt | None = None, reason: Json | None = None
) -> Event:
    status = "Failure" if m.status is MessageStatus.FAILED else "Success"
    return Event(
        *_conv(v),
        "completed",
        "message",
        v.links.message(m.n),
        H,
        embedded=res.message(v, m),
        status=status,
        reason=reason,
        receipt=receipt,
    )


def outgoing_started(v: ConvView, inv: Invitation) -> list[Event]:
    return [
        invitation_event(v, inv, "started"),
        conversation_event(v, "added"),
        local_participant_event(v, "added"),
        messaging_event(v),
    ]


def incoming_started(v: ConvView, inv: Invitation) -> list[Event]:
    return [
        invitation_event(v, inv, "started"),
        conversation_event(v, "added"),
        local_participant_event(v, "added"),
        *[participant_event(v, u, "added") for u in v.remote],
    ]


def teardown(v: ConvView, now: float, *, remote: bool) -> list[Event]:
    """Local or remote teardown (SPEC §18.6): the view ends and is deleted."""
    out = [typing_event(v, u, "deleted") for u, until in v.typing.items() if until > now]
    v.typing = {}
    had_messaging = v.messaging_evented
    if v.messaging is not MessagingState.DISCONNECTED:
        v.step_messaging(MessagingTrigger.DISCONNECT)
    if had_messaging:
        out.append(messaging_event(v, reason=CALL_TERMINATED if remote else None))
    if v.local_messaging:
        out.append(participant_messaging_event(v, v.user_uri, "deleted"))
    out += [participant_messaging_event(v, u, "deleted") for u in v.remote_messaging]
    out += [participant_event(v, u, "deleted") for u in v.remote]
    out.append(local_participant_event(v, "deleted"))
    v.local_messaging = False
    v.remote_messaging = []
    v.remote = []
    v.step(ConversationTrigger.END)
    v.ended = True
    out.append(conversation_event(v, "updated"))
    out.append(conversation_event(v, "deleted"))
    return out
