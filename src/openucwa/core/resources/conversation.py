"""Conversation resources rendered from a view (SPEC §14–§16): what a GET or an event embeds."""

from __future__ import annotations

from typing import Any

from ..conversation import ConvView, Direction, Invitation, Message
from ..datauri import encode, strip_tags
from ..hal import Json, json_date, link, resource
from ..links import AppLinks
from ..machines.conversation import ConversationState
from ..machines.invitation import InvitationState
from ..machines.message import MessageStatus
from ..machines.messaging import MessagingState


def active_modalities(v: ConvView) -> list[str]:
    if v.state is ConversationState.INCOMING or v.live:
        return ["Messaging"]
    return []


def conversation(v: ConvView) -> Json:
    c = v.links
    links: dict[str, Any] = {
        "participants": link(c.participants()),
        "localParticipant": link(c.participant(v.user_uri), v.name(v.user_uri)),
        "messaging": link(c.messaging()),
    }
    if v.live:
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
    if v.messaging is MessagingState.CONNECTED:
        links |= {
            "stopMessaging": link(c.stop_messaging()),
            "sendMessage": link(c.messages()),
            "setIsTyping": link(c.typing()),
            "typingParticipants": link(c.typing_participants()),
        }
        props["negotiatedMessageFormats"] = list(v.formats)
    elif v.messaging is MessagingState.CONNECTING and v.direction is Direction.OUTGOING:
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
    if inv.direction is Direction.OUTGOING and inv.state is InvitationState.CONNECTING and not v.ended:
        links["cancel"] = link(c.stop_messaging())
    links["conversation"] = link(c.conversation())
    if inv.direction is Direction.INCOMING:
        if inv.state is InvitationState.CONNECTING and not inv.answered:
            links["accept"] = link(c.accept(inv.id))
            links["decline"] = link(c.decline(inv.id))
        embedded["from"] = participant(v, inviter)
    links["messaging"] = link(c.messaging())
    if inv.message is not None:
        links["message"] = link(encode(inv.message, inv.message_type))
    if inv.direction is Direction.OUTGOING and inv.state is InvitationState.CONNECTED:
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
    if inv.state is InvitationState.CONNECTING:
        links["cancel"] = link(c.participant_invitation(inv.id) + "/cancel")
    if inv.state is InvitationState.CONNECTED and inv.to_uri in v.remote:
        links["participant"] = link(c.participant(inv.to_uri), v.name(inv.to_uri))
        embedded = {"acceptedByParticipant": [participant(v, inv.to_uri)]}
    props = {
        "direction": Direction.OUTGOING,
        "state": inv.state,
        "operationId": inv.operation_id,
        "to": f"sip:{inv.to_uri}",
        "threadId": v.thread_id,
        "subject": v.subject,
        "importance": v.importance,
    }
    return resource("participantInvitation", c.participant_invitation(inv.id), props, links, embedded)


def message(v: ConvView, m: Message, *, with_text: bool = False) -> Json:
    """The message resource; outgoing ones carry no text [seed] except in our history pages."""
    c = v.links
    links: dict[str, Any] = {}
    props: Json = {"direction": m.direction, "timeStamp": json_date(m.timestamp_ms)}
    if m.direction is Direction.INCOMING:
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
        if m.status is not MessageStatus.SUCCEEDED:
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
