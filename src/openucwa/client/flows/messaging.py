"""IM (SPEC §13–§16, flows/send-an-im.md): start a conversation, send, answer, typing, history."""

from __future__ import annotations

import uuid
from typing import Any

from ..errors import Canceled, NoAnswer, NotOffered, delivery_error
from ..models import Conversation, absolute, with_query
from .application import sip
from .channel import ChannelFlows
from .instructions import Flow


class MessagingFlows(ChannelFlows):
    # -- IM (SPEC §13–§16, flows/send-an-im.md) ---------------------------------------------------

    def start_conversation(
        self, to: str, subject: str | None = None, timeout: float = 60.0
    ) -> Flow[Conversation]:
        """startMessaging, then wait for the invitation to complete: Connected, or an error."""
        to = sip(to)
        start = self.href(self.embedded("communication"), "startMessaging")
        if not start:
            raise NotOffered("this server does not offer startMessaging")
        op = str(uuid.uuid4())
        self.state.outgoing_targets[op] = to
        cursor = self.log_end
        body = {"to": to, "operationId": op, "importance": "Normal", "sessionContext": str(uuid.uuid4())}
        if subject:
            body["subject"] = subject
        r = yield from self.call("POST", start, json=body)
        if r.status_code == 400:
            raise delivery_error({"subcode": "DestinationNotFound"}, to)
        self.expect(r, "startMessaging", 201)
        location = absolute(str(r.request.url), r.headers.get("location", ""))
        deadline = self.clock() + timeout
        while True:
            entries, cursor = yield from self.wait_for(cursor, deadline)
            for e in entries:
                ev = e.event
                if ev.rel != "messagingInvitation" or ev.type != "completed":
                    continue
                if ev.href != location and ev.resource.get("operationId") != op:
                    continue
                if ev.status == "Success":
                    conv = self.state.conversation(ev.href_of("conversation") or "")
                    conv.remote_uri = to
                    return conv
                raise delivery_error(ev.reason, to)
            if self.clock() >= deadline:
                raise NoAnswer(f"{to}: no answer within {timeout:.0f} s")

    def post_message(
        self, conv: Conversation, text: str, *, wait: bool = True, timeout: float = 60.0
    ) -> Flow[str]:
        """sendMessage on a connected conversation; with ``wait``, until it is delivered."""
        send = conv.messaging.get("sendMessage")
        if not send:
            raise Canceled("the conversation is not connected")
        op = str(uuid.uuid4())
        cursor = self.log_end
        r = yield from self.call(
            "POST",
            with_query(send, operationId=op),
            content=text.encode(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        if r.status_code in (404, 409, 410):
            self.state.conversations.pop(conv.href, None)
            raise Canceled("the conversation ended", status=r.status_code)
        self.expect(r, "sendMessage", 201)
        location = absolute(str(r.request.url), r.headers.get("location", ""))
        conv.history.append(("out", "me", text))
        if not wait:
            return location
        deadline = self.clock() + timeout
        while True:
            entries, cursor = yield from self.wait_for(cursor, deadline)
            for e in entries:
                ev = e.event
                if ev.rel == "message" and ev.type == "completed":
                    if ev.href == location or ev.resource.get("operationId") == op:
                        if ev.status == "Success":
                            return location
                        raise delivery_error(ev.reason, conv.remote_uri or "")
                if ev.rel == "conversation" and ev.type == "deleted" and ev.href == conv.href:
                    raise Canceled(f"{conv.remote_uri}: the conversation ended before delivery")
            if self.clock() >= deadline:
                raise NoAnswer(f"{conv.remote_uri}: the message was not confirmed within {timeout:.0f} s")

    def send_message(
        self, to: str, text: str, *, subject: str | None = None, wait: bool = True, timeout: float = 60.0
    ) -> Flow[str]:
        """Send ``text`` to ``to`` (reusing a connected conversation); the message href."""
        to = sip(to)
        conv = self.state.find(to)
        if conv is not None:
            try:
                return (yield from self.post_message(conv, text, wait=wait, timeout=timeout))
            except Canceled:
                conv = None  # the old conversation ended meanwhile: start a new one
        conv = yield from self.start_conversation(to, subject, timeout)
        return (yield from self.post_message(conv, text, wait=wait, timeout=timeout))

    def reply(self, conversation: str, text: str, *, wait: bool = False) -> Flow[str]:
        conv = self.state.conversations.get(conversation)
        if conv is None or not conv.connected:
            raise Canceled("the conversation is not connected")
        return (yield from self.post_message(conv, text, wait=wait))

    def answer(self, href: str | None, accept: bool) -> Flow[bool]:
        """Accept or decline an incoming invitation; False if it is no longer pending."""
        if not href:
            return False
        kw: dict[str, Any] = {} if accept else {"json": {"reason": "Local"}}
        r = yield from self.call("POST", href, **kw)
        return r.status_code in (200, 204)

    def set_typing(self, conversation: str) -> Flow[None]:
        conv = self.state.conversations.get(conversation)
        href = conv.messaging.get("setIsTyping") if conv else None
        if href:
            yield from self.call("POST", href)

    def stop(self, conversation: str) -> Flow[None]:
        conv = self.state.conversations.get(conversation)
        href = conv.messaging.get("stopMessaging") if conv else None
        if href:
            yield from self.call("POST", href)

    def history(self, conversation: str) -> Flow[list[dict[str, Any]]]:
        """The server's message history of a conversation (extension rel ``history``), newest first."""
        conv = self.state.conversations.get(conversation)
        href = conv.messaging.get("history") if conv else None
        if not href:
            raise NotOffered("this server does not offer conversation history")
        r = yield from self.call("GET", href)
        body = self.expect(r, "history", 200)
        return list(((body or {}).get("_embedded") or {}).get("message") or [])
