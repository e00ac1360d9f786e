"""Conversations as one application sees them, and their resources (SPEC §14–§16).

Each participant's application holds its own *view* of a communication (its own ids and hrefs); the
views of one communication share a ``session_id`` and a ``threadId``. A view records exactly what
that application was told, so rendering needs nothing else: states, who is present, who is typing,
and the invitation that created it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .datauri import encode, strip_tags
from .hal import Json, json_date, link, resource
from .links import AppLinks, ConvLinks


class State:
    CONNECTING = "Connecting"
    INCOMING = "Incoming"
    CONNECTED = "Connected"
    CONFERENCED = "Conferenced"
    DISCONNECTED = "Disconnected"


LIVE = (State.CONNECTED, State.CONFERENCED)


@dataclass(slots=True)
class Invitation:
    id: str
    direction: str  # Outgoing / Incoming
    state: str = State.CONNECTING  # Connecting, Connected, Declined, Cancelled, Failed
    operation_id: str | None = None
    session_context: str | None = None
    to_uri: str = ""
    from_uri: str = ""
    message: str | None = None  # the first message, as text
    message_type: str = "text/plain"
    answered: bool = False  # incoming: accept was received (links removed)
    started_at: float = 0.0
    expires_at: float = 0.0  # unanswered by then: timeout (fixed at creation, whatever node checks)
    kind: str = "messaging"  # "messaging" or "participant"
    done: bool = False


@dataclass(slots=True)
class ConvView:
    id: str
    app_id: str
    user_uri: str
    session_id: str
    thread_id: str
    direction: str
    subject: str | None = None
    importance: str = "Normal"
    state: str = State.CONNECTING
    messaging: str = State.CONNECTING
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

    def name(self, user: str) -> str:
        return self.names.get(user, user)

    @property
    def invitation(self) -> Invitation | None:
        """The messaging invitation that created this view."""
        return next((i for i in self.invitations if i.kind == "messaging"), None)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ConvView:
        d = dict(doc)
        d["invitations"] = [Invitation(**i) for i in d.get("invitations", [])]
        d["formats"] = tuple(d.get("formats", ("Plain",)))
        return cls(**d)


def active_modalities(v: ConvView) -> list[str]:
    if v.state in (State.INCOMING, *LIVE):
        return ["Messaging"]
    return []


def conversation(v: ConvView) -> Json:
    c = v.links
    links: dict[str, Any] = {
        "participants": link(c.participants()),
        "localParticipant": link(c.participant(v.user_uri), v.name(v.user_uri)),
        "messaging": link(c.messaging()),
    }
    if v.state in LIVE:
        links["addParticipant"] = link(c.add_participant())
        links["history"] = link(c.history())
    props = {
        "state": v.state,
        "threadId": v.thread_id,
        "subject": v.subject,
        "activeModalities": active_modalities(v),
        "importance": v.importance,
        "recording": False,
        "participantCount": len(v.remote) + 1,
    }
    return resource("conversation", c.conversation(), props, links)


def messaging(v: ConvView) -> Json:
    c = v.links
    links: dict[str, Any] = {"conversation": link(c.conversation())}
    props: Json = {"state": v.messaging}
    if v.messaging == State.CONNECTED:
        links |= {
            "stopMessaging": link(c.stop_messaging()),
            "sendMessage": link(c.messages()),
            "setIsTyping": link(c.typing()),
            "typingParticipants": link(c.typing_participants()),
        }
        props["negotiatedMessageFormats"] = list(v.formats)
    elif v.messaging == State.CONNECTING and v.direction == "Outgoing":
        links["stopMessaging"] = link(c.stop_messaging())
    return resource("messaging", c.messaging(), props, links)


def participant(v: ConvView, user: str, *, has_photo: bool = False) -> Json:
    """A remote participant (SPEC §14.4); the local one is ``local_participant``."""
    c = v.links
    a = AppLinks(v.app_id)
    links: dict[str, Any] = {
        "conversation": link(c.conversation()),
        "contact": link(a.contact(user)),
        "contactPresence": link(a.contact(user) + "/presence"),
    }
    if has_photo:
        links["contactPhoto"] = link(a.photo(user))
    if user in v.remote_messaging:
        links["participantMessaging"] = link(c.participant_messaging(user))
    props = {
        "sourceNetwork": "SameEnterprise",
        "anonymous": False,
        "name": v.name(user),
        "uri": f"sip:{user}",
    }
    return resource("participant", c.participant(user), props, links)


def local_participant(v: ConvView) -> Json:
    c = v.links
    links: dict[str, Any] = {"conversation": link(c.conversation()), "me": link(AppLinks(v.app_id).me())}
    if v.local_messaging:
        links["participantMessaging"] = link(c.participant_messaging(v.user_uri))
    props = {
        "sourceNetwork": "SameEnterprise",
        "anonymous": False,
        "name": v.name(v.user_uri),
        "uri": f"sip:{v.user_uri}",
    }
    return resource("participant", c.participant(v.user_uri), props, links)


def participant_messaging(v: ConvView, user: str) -> Json:
    c = v.links
    return resource(
        "participantMessaging",
        c.participant_messaging(user),
        links={"participant": link(c.participant(user), v.name(user))},
    )


def participants(v: ConvView) -> Json:
    c = v.links
    return resource(
        "participants",
        c.participants(),
        links={"participant": [link(c.participant(u), v.name(u)) for u in v.remote]},
    )


def typing_participants(v: ConvView, now: float) -> Json:
    c = v.links
    typing = [u for u, until in v.typing.items() if until > now and u in v.remote]
    return resource(
        "typingParticipants",
        c.typing_participants(),
        links={"participant": [link(c.participant(u), v.name(u)) for u in typing]},
    )


def invitation(v: ConvView, inv: Invitation) -> Json:
    """A messagingInvitation (SPEC §16.1) in its current state."""
    c = v.links
    a = AppLinks(v.app_id)
    inviter = inv.from_uri
    links: dict[str, Any] = {
        "from": link(c.participant(inviter), v.name(inviter)),
        "to": link(a.contact(inv.to_uri)),
    }
    embedded: Json = {}
    if inv.direction == "Outgoing" and inv.state == State.CONNECTING and not v.ended:
        links["cancel"] = link(c.stop_messaging())
    links["conversation"] = link(c.conversation())
    if inv.direction == "Incoming":
        if inv.state == State.CONNECTING and not inv.answered:
            links["accept"] = link(c.accept(inv.id))
            links["decline"] = link(c.decline(inv.id))
        embedded["from"] = participant(v, inviter)
    links["messaging"] = link(c.messaging())
    if inv.message is not None:
        links["message"] = link(encode(inv.message, inv.message_type))
    if inv.direction == "Outgoing" and inv.state == State.CONNECTED:
        accepted = [u for u in v.remote if u == inv.to_uri] or v.remote[:1]
        embedded["acceptedByParticipant"] = [participant(v, u) for u in accepted]
    props = {
        "direction": inv.direction,
        "importance": v.importance,
        "threadId": v.thread_id,
        "state": inv.state,
        "operationId": inv.operation_id,
        "subject": v.subject,
    }
    return resource("messagingInvitation", c.invitation(inv.id), props, links, embedded or None)


def participant_invitation(v: ConvView, inv: Invitation) -> Json:
    """The inviter's view of an addParticipant operation (SPEC §17)."""
    c = v.links
    a = AppLinks(v.app_id)
    links: dict[str, Any] = {
        "conversation": link(c.conversation()),
        "from": link(c.participant(v.user_uri), v.name(v.user_uri)),
        "to": link(a.contact(inv.to_uri)),
    }
    embedded: Json | None = None
    if inv.state == State.CONNECTING:
        links["cancel"] = link(c.participant_invitation(inv.id) + "/cancel")
    if inv.state == State.CONNECTED and inv.to_uri in v.remote:
        links["participant"] = link(c.participant(inv.to_uri), v.name(inv.to_uri))
        embedded = {"acceptedByParticipant": [participant(v, inv.to_uri)]}
    props = {
        "direction": "Outgoing",
        "state": inv.state,
        "operationId": inv.operation_id,
        "to": f"sip:{inv.to_uri}",
        "threadId": v.thread_id,
        "subject": v.subject,
        "importance": v.importance,
    }
    return resource("participantInvitation", c.participant_invitation(inv.id), props, links, embedded)


@dataclass(frozen=True, slots=True)
class Message:
    conv_id: str
    n: int
    direction: str  # Outgoing / Incoming
    sender: str
    content_type: str  # text/plain or text/html
    text: str
    timestamp_ms: int
    operation_id: str | None = None
    status: str = "Succeeded"  # Pending / Succeeded / Failed
    failed: tuple[str, ...] = ()


def message(v: ConvView, m: Message, *, with_text: bool = False) -> Json:
    """The message resource; outgoing ones carry no text [seed] except in our history pages."""
    c = v.links
    links: dict[str, Any] = {}
    props: Json = {"direction": m.direction, "timeStamp": json_date(m.timestamp_ms)}
    if m.direction == "Incoming":
        links["contact"] = link(AppLinks(v.app_id).contact(m.sender))
        links["participant"] = link(c.participant(m.sender), v.name(m.sender))
        links["messaging"] = link(c.messaging())
        html = m.content_type == "text/html"
        links["plainMessage"] = link(encode(strip_tags(m.text) if html else m.text, "text/plain"))
        if html and "Html" in v.formats:
            links["htmlMessage"] = link(encode(m.text, "text/html"))
    else:
        links["messaging"] = link(c.messaging())
        if with_text:
            links["plainMessage"] = link(
                encode(strip_tags(m.text) if m.content_type == "text/html" else m.text)
            )
        props["operationId"] = m.operation_id
        if m.status != "Succeeded":
            props["status"] = m.status
        if m.failed:
            links["failedDeliveryParticipant"] = [link(c.participant(u)) for u in m.failed]
    return resource("message", c.message(m.n), props, links)


def messages(v: ConvView, ns: list[int]) -> Json:
    c = v.links
    return resource("messages", c.messages(), links={"message": [link(c.message(n)) for n in ns]})


def history(v: ConvView, msgs: list[Message], limit: int) -> Json:
    """Extension: one page of the conversation's messages, newest first (README "History")."""
    c = v.links
    links: dict[str, Any] = {}
    if len(msgs) == limit and msgs:
        links["next"] = link(f"{c.history()}?before={msgs[-1].n}&limit={limit}")
    return resource(
        "history",
        c.history(),
        links=links,
        embedded={"message": [message(v, m, with_text=True) for m in msgs]},
    )
