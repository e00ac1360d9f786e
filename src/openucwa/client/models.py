"""The small typed model of the SDK: raw channel events, and what they mean to an application.

``Event`` is one event object of an event-channel response, its hrefs made absolute against the
URL the response came from. ``State`` applies events in order and turns the ones an application
cares about into notifications (``IncomingInvitation``, ``IncomingMessage``, ``Typing``,
``ConversationEnded``, ``PresenceChanged``). Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from ..core import datauri


def absolute(base: str, href: str) -> str:
    """``href`` resolved against the URL of the response it was read from."""
    return str(httpx.URL(base).join(href))


def with_query(href: str, **params: str) -> str:
    """``href`` with query parameters appended (keeps any query string the server put there)."""
    return str(httpx.URL(href).copy_merge_params(params))


def link(resource: dict[str, Any] | None, rel: str) -> str | None:
    """The href of ``_links[rel]`` (first one if the rel is an array), or None."""
    links = (resource or {}).get("_links") or {}
    value = links.get(rel)
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict) and value.get("href"):
        return str(value["href"])
    return None


@dataclass(frozen=True)
class Event:
    """One channel event; hrefs absolute."""

    sender: str  # rel of the sender block: communication, conversation, me, people
    sender_href: str
    type: str  # added/updated/deleted or started/updated/completed
    rel: str
    href: str
    title: str | None = None
    in_rel: str | None = None
    in_href: str | None = None
    status: str | None = None
    reason: dict[str, Any] | None = None
    embedded: dict[str, Any] | None = None

    @property
    def resource(self) -> dict[str, Any]:
        return self.embedded or {}

    def href_of(self, rel: str) -> str | None:
        h = link(self.embedded, rel)
        return absolute(self.href, h) if h else None


def parse_page(base: str, page: dict[str, Any]) -> list[Event]:
    out: list[Event] = []
    for block in page.get("sender") or []:
        s_href = absolute(base, block.get("href", ""))
        for ev in block.get("events") or []:
            lk = ev.get("link") or {}
            inn = ev.get("in") or {}
            rel = lk.get("rel", "")
            out.append(
                Event(
                    sender=block.get("rel", ""),
                    sender_href=s_href,
                    type=ev.get("type", ""),
                    rel=rel,
                    href=absolute(base, lk.get("href", "")),
                    title=lk.get("title"),
                    in_rel=inn.get("rel"),
                    in_href=absolute(base, inn["href"]) if inn.get("href") else None,
                    status=ev.get("status"),
                    reason=ev.get("reason"),
                    embedded=(ev.get("_embedded") or {}).get(rel),
                )
            )
    return out


_DATE = re.compile(r"/Date\((-?\d+)\)/")


def timestamp(value: Any) -> datetime | None:
    m = _DATE.search(str(value or ""))
    return datetime.fromtimestamp(int(m.group(1)) / 1000, UTC) if m else None


def message_text(message: dict[str, Any]) -> str:
    """The text of a message resource: plainMessage, else htmlMessage with tags removed."""
    plain = link(message, "plainMessage")
    if plain:
        return datauri.decode(plain)[0]
    html = link(message, "htmlMessage")
    if html:
        return datauri.strip_tags(datauri.decode(html)[0])
    return ""


# -- notifications -----------------------------------------------------------------------------------


@dataclass
class Conversation:
    href: str
    remote_uri: str | None = None
    remote_name: str | None = None
    subject: str | None = None
    state: str = "Connecting"
    messaging: dict[str, str] = field(default_factory=dict)  # rel -> absolute href
    typing: set[str] = field(default_factory=set)
    history: list[tuple[str, str, str]] = field(default_factory=list)  # (direction, who, text)

    @property
    def connected(self) -> bool:
        return "sendMessage" in self.messaging


@dataclass(frozen=True)
class IncomingInvitation:
    """Someone wants to chat. Accept or decline it through the session."""

    href: str
    conversation: str
    from_uri: str | None
    from_name: str | None
    subject: str | None
    first_message: str | None
    accept_href: str | None
    decline_href: str | None


@dataclass(frozen=True)
class IncomingMessage:
    text: str
    conversation: str
    from_uri: str | None
    from_name: str | None
    href: str
    time: datetime | None


@dataclass(frozen=True)
class Typing:
    conversation: str
    who: str | None
    typing: bool


@dataclass(frozen=True)
class ConversationEnded:
    conversation: str
    remote_uri: str | None
    reason: dict[str, Any] | None


@dataclass(frozen=True)
class PresenceChanged:
    href: str  # the contactPresence or presence resource that changed (GET it for the value)
    contact: str | None


Notification = IncomingInvitation | IncomingMessage | Typing | ConversationEnded | PresenceChanged


class State:
    """Conversations known to this application, kept current by applying events in order."""

    def __init__(self) -> None:
        self.conversations: dict[str, Conversation] = {}
        self.outgoing_targets: dict[str, str] = {}  # operationId -> sip uri we invited

    def conversation(self, href: str) -> Conversation:
        if href not in self.conversations:
            self.conversations[href] = Conversation(href)
        return self.conversations[href]

    def find(self, uri: str) -> Conversation | None:
        for c in self.conversations.values():
            if c.remote_uri == uri and c.connected:
                return c
        return None

    def reset(self) -> None:
        self.conversations.clear()

    def apply(self, ev: Event) -> list[Notification]:
        res = ev.resource
        if ev.rel == "messagingInvitation":
            conv_href = ev.href_of("conversation")
            if not conv_href:
                return []
            conv = self.conversation(conv_href)
            conv.subject = res.get("subject") or conv.subject
            if res.get("direction") == "Incoming":
                frm = (res.get("_embedded") or {}).get("from") or {}
                conv.remote_uri = frm.get("uri") or conv.remote_uri
                conv.remote_name = frm.get("name") or conv.remote_name
                if ev.type == "started":
                    first = link(res, "message")
                    return [
                        IncomingInvitation(
                            href=ev.href,
                            conversation=conv_href,
                            from_uri=conv.remote_uri,
                            from_name=conv.remote_name,
                            subject=res.get("subject"),
                            first_message=datauri.decode(first)[0] if first else None,
                            accept_href=ev.href_of("accept"),
                            decline_href=ev.href_of("decline"),
                        )
                    ]
            elif res.get("operationId") in self.outgoing_targets:
                conv.remote_uri = self.outgoing_targets[res["operationId"]]
                accepted = (res.get("_embedded") or {}).get("acceptedByParticipant") or []
                if accepted:
                    conv.remote_name = accepted[0].get("name") or conv.remote_name
            return []
        if ev.rel == "conversation":
            if ev.type == "deleted":
                gone = self.conversations.pop(ev.href, None)
                return [ConversationEnded(ev.href, gone.remote_uri if gone else None, ev.reason)]
            conv = self.conversation(ev.href)
            conv.state = res.get("state") or conv.state
            if h := link(res, "history"):  # OpenUCWA extension, on the conversation
                conv.messaging["history"] = absolute(ev.href, h)
            return []
        if ev.rel == "messaging" and ev.sender == "conversation":
            conv = self.conversation(ev.sender_href)
            kept = {k: v for k, v in conv.messaging.items() if k == "history"}
            conv.messaging = kept | {
                rel: absolute(ev.href, h)
                for rel in ("sendMessage", "setIsTyping", "stopMessaging", "typingParticipants")
                if (h := link(res, rel))
            }
            return []
        if ev.in_rel == "typingParticipants" and ev.type in ("added", "deleted"):
            conv = self.conversation(ev.sender_href)
            who = ev.title or conv.remote_name
            if ev.type == "added":
                conv.typing.add(ev.href)
            else:
                conv.typing.discard(ev.href)
            return [Typing(ev.sender_href, who, ev.type == "added")]
        if ev.rel == "participant" and ev.type == "added" and ev.in_rel is None and ev.title:
            conv = self.conversation(ev.sender_href)
            conv.remote_name = conv.remote_name or ev.title
            return []
        if ev.rel == "message" and ev.type == "completed" and ev.status == "Success":
            conv = self.conversation(ev.sender_href)
            if res.get("direction") == "Incoming":
                name = (((res.get("_links") or {}).get("participant")) or {}).get("title") or conv.remote_name
                text = message_text(res)
                conv.history.append(("in", name or conv.remote_uri or "?", text))
                return [
                    IncomingMessage(
                        text, conv.href, conv.remote_uri, name, ev.href, timestamp(res.get("timeStamp"))
                    )
                ]
            return []
        if ev.rel in ("contactPresence", "presence") and ev.type == "updated":
            return [PresenceChanged(ev.href, ev.in_href)]
        return []
