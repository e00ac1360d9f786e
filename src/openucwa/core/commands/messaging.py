"""Inputs of conversations and messaging (SPEC §13–§17): startMessaging, addParticipant, decline
and sendMessage, with the size, content-type, charset and operationId rules of each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import datauri, errors
from ..ids import normalize_user
from .inputs import choice, decode_text, fold, text

IMPORTANCE = ("Normal", "Urgent", "Emergency")
TEXT_TYPES = ("text/plain", "text/html")
OPERATION_ID_LENGTH = 50
_OPERATION_NAMES = ("operationid", "operationcontext")


@dataclass(frozen=True, slots=True)
class Text:
    """A message body: text and its content type (text/plain or text/html)."""

    text: str
    content_type: str


def _invitee(d: Mapping[str, Any], sender: str) -> str:
    target = normalize_user(text(d, "to", required=True, max_len=512) or "")
    if target is None:
        raise errors.invalid({"to": "Invalid"}, "to must be a SIP URI.")
    if target == sender:
        raise errors.invalid({"to": "Invalid"}, "You cannot invite yourself.")
    return target


@dataclass(frozen=True, slots=True)
class StartMessaging:
    to: str
    subject: str | None
    importance: str
    thread_id: str | None
    operation_id: str | None
    session_context: str | None
    message: Text | None  # the first message, carried with the invitation


def start_messaging(data: Mapping[str, Any], *, sender: str) -> StartMessaging:
    d = fold(data)
    links = d.get("_links")
    if "message" not in d and isinstance(links, dict):
        msg = fold(links).get("message")
        if isinstance(msg, dict) and isinstance(msg.get("href"), str):
            d["message"] = msg["href"]
    to = _invitee(d, sender)
    imp = text(d, "importance", required=False, max_len=20)
    first: Text | None = None
    raw_message = d.get("message")
    if raw_message not in (None, ""):
        if not isinstance(raw_message, str):
            raise errors.invalid({"message": "Invalid"})
        try:
            first = Text(*datauri.decode(raw_message))
        except ValueError:
            raise errors.invalid(
                {"message": "Invalid"}, "The first message is not a valid data URI."
            ) from None
        if first.content_type not in TEXT_TYPES:
            raise errors.invalid({"message": "Invalid"}, "The first message must be text/plain or text/html.")
    return StartMessaging(
        to=to,
        subject=text(d, "subject", required=False, max_len=250),
        importance=choice(imp, IMPORTANCE, "importance") if imp else "Normal",
        thread_id=text(d, "threadId", required=False, max_len=250),
        operation_id=text(d, "operationId", required=False, max_len=OPERATION_ID_LENGTH),
        session_context=text(d, "sessionContext", required=False, max_len=256),
        message=first,
    )


@dataclass(frozen=True, slots=True)
class AddParticipant:
    conversation: str
    to: str
    operation_id: str | None


def add_participant(data: Mapping[str, Any], *, sender: str) -> AddParticipant:
    d = fold(data)
    conversation = d.get("conversation")
    if not conversation or not isinstance(conversation, str):
        raise errors.invalid({"conversation": "Required"}, "Use the conversation's addParticipant link.")
    return AddParticipant(
        conversation=conversation,
        to=_invitee(d, sender),
        operation_id=text(d, "operationId", required=False, max_len=OPERATION_ID_LENGTH),
    )


@dataclass(frozen=True, slots=True)
class Decline:
    everywhere: bool  # reason Global: every device of the invitee declines (SPEC §16.4)


def decline(data: Mapping[str, Any]) -> Decline:
    why = fold(data).get("reason")
    return Decline(everywhere=isinstance(why, str) and why.lower() == "global")


@dataclass(frozen=True, slots=True)
class SendMessage:
    body: Text
    operation_id: str | None


def send_message(
    raw: bytes, media_type: str, charset: str | None, query: Mapping[str, str], *, max_bytes: int
) -> SendMessage:
    """sendMessage: the body is the message itself, text/plain or text/html (SPEC §15.2)."""
    if len(raw) > max_bytes:
        raise errors.UcwaError(errors.ENTITY_TOO_LARGE, f"A message may hold at most {max_bytes} bytes.")
    if media_type not in TEXT_TYPES:
        raise errors.UcwaError(errors.UNSUPPORTED_MEDIA_TYPE, "Messages are text/plain or text/html.")
    body = decode_text(raw, charset)
    if not body:
        raise errors.invalid({"message": "Required"}, "The message is empty.")
    q = fold(query)
    operation_id = next((q[n] for n in _OPERATION_NAMES if q.get(n)), None)
    if operation_id is not None and len(operation_id) > OPERATION_ID_LENGTH:
        raise errors.invalid({"operationId": "TooLong"})
    return SendMessage(Text(body, media_type), operation_id)
