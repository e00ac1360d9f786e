"""Validated inputs parsed from plain dicts (body or query), or a UcwaError naming what is wrong.

Input names are case-insensitive and enumeration values too (SPEC §3.4); unknown inputs are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import datauri, errors
from .ids import normalize_user

PREFERRED_AVAILABILITY = ("Online", "Busy", "DoNotDisturb", "BeRightBack", "Away", "Offwork")
# me/presence also takes "Appear Offline" (spelled Offline, or AppearOffline): the user is shown as
# Offline to everyone and cannot be reached, while the applications keep working.
APPEAR_OFFLINE = "Offline"
PUBLISHABLE_AVAILABILITY = (*PREFERRED_AVAILABILITY, APPEAR_OFFLINE)


def publishable_availability(value: str) -> str:
    if value.lower() == "appearoffline":
        return APPEAR_OFFLINE
    return choice(value, PUBLISHABLE_AVAILABILITY, "availability")


MODALITIES_ALLOWED = ("Messaging", "PhoneAudio")
MESSAGE_FORMATS = ("Plain", "Html")


def fold(data: Mapping[str, Any]) -> dict[str, Any]:
    """Lower-case every key; when two spellings collide the later one wins, as in a dict update."""
    return {str(k).lower(): v for k, v in data.items()}


def merged(body: Mapping[str, Any] | None, query: Mapping[str, str]) -> dict[str, Any]:
    """Body wins over query parameters of the same name (SPEC §3.4)."""
    out = fold(query)
    out.update(fold(body or {}))
    return out


def text(data: Mapping[str, Any], name: str, *, required: bool, max_len: int) -> str | None:
    value = data.get(name.lower())
    if value is None or value == "":
        if required:
            raise errors.invalid({name: "Required"}, f"{name} is required.")
        return None
    if not isinstance(value, str):
        raise errors.invalid({name: "Invalid"}, f"{name} must be a string.")
    if len(value) > max_len:
        raise errors.invalid({name: "TooLong"}, f"{name} must be at most {max_len} characters.")
    return value


def choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    for a in allowed:
        if a.lower() == value.lower():
            return a
    raise errors.invalid({name: "Invalid"}, f"{name} must be one of {', '.join(allowed)}.")


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_DECIMAL = re.compile(r"-?[0-9]{1,19}")


def parse_int(value: object) -> int | None:
    """An integer as clients write one: a JSON number or ASCII decimal digits, within the range of
    the database's 64-bit columns. Python's ``int()`` would also take fullwidth digits, ``1_000``
    and surrounding spaces, and numbers no column can hold."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and _DECIMAL.fullmatch(value):
        n = int(value)
    else:
        return None
    return n if INT64_MIN <= n <= INT64_MAX else None


def integer(data: Mapping[str, Any], name: str, *, minimum: int | None = None) -> int | None:
    value = data.get(name.lower())
    if value is None or value == "":
        return None
    n = parse_int(value)
    if n is None:
        raise errors.invalid({name: "Invalid"}, f"{name} must be a decimal integer of 64 bits at most.")
    if minimum is not None and n < minimum:
        raise errors.invalid({name: "OutOfRange"}, f"{name} must be at least {minimum}.")
    return n


def string_list(data: Mapping[str, Any], name: str) -> list[str] | None:
    value = data.get(name.lower())
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.invalid({name: "Invalid"}, f"{name} must be a list of strings.")
    return value


@dataclass(frozen=True, slots=True)
class CreateApplication:
    user_agent: str
    endpoint_id: str
    culture: str
    instance_id: str | None
    type: str


def create_application(data: Mapping[str, Any]) -> CreateApplication:
    d = fold(data)
    missing = {n: "Required" for n in ("userAgent", "endpointId", "culture") if not d.get(n.lower())}
    if missing:
        raise errors.invalid(missing, "userAgent, endpointId and culture are required.")
    kind = text(d, "type", required=False, max_len=100)
    return CreateApplication(
        user_agent=text(d, "userAgent", required=True, max_len=100) or "",
        endpoint_id=text(d, "endpointId", required=True, max_len=100) or "",
        culture=text(d, "culture", required=True, max_len=100) or "",
        instance_id=text(d, "instanceId", required=False, max_len=100),
        type=choice(kind, ("Browser",), "type") if kind else "Browser",
    )


@dataclass(frozen=True, slots=True)
class MakeMeAvailable:
    supported_modalities: tuple[str, ...]
    supported_message_formats: tuple[str, ...] | None
    sign_in_as: str
    inactive_timeout: int


def make_me_available(data: Mapping[str, Any]) -> MakeMeAvailable:
    d = fold(data)
    mods = string_list(d, "supportedModalities")
    if mods is None:
        mods = ["Messaging"]
    canon: list[str] = []
    for m in mods:
        match = next((a for a in MODALITIES_ALLOWED if a.lower() == m.lower()), None)
        if match is None:
            raise errors.UcwaError(errors.FORBIDDEN, f"The modality {m!r} is not supported.")
        if match == "Messaging" and match not in canon:
            canon.append(match)  # PhoneAudio is accepted and dropped (SPEC §11.2)
    fmts = string_list(d, "supportedMessageFormats")
    formats: tuple[str, ...] | None = None
    if fmts is not None:
        chosen = {choice(f, MESSAGE_FORMATS, "supportedMessageFormats") for f in fmts} | {"Plain"}
        formats = tuple(f for f in MESSAGE_FORMATS if f in chosen)
    sign_in = text(d, "signInAs", required=False, max_len=50)
    timeout = integer(d, "inactiveTimeout", minimum=1)
    return MakeMeAvailable(
        supported_modalities=tuple(canon),
        supported_message_formats=formats,
        sign_in_as=choice(sign_in, PREFERRED_AVAILABILITY, "signInAs") if sign_in else "Online",
        inactive_timeout=timeout or 5,
    )


@dataclass(frozen=True, slots=True)
class PGet:
    ack: int | None
    timeout: int | None
    low: int | None
    medium: int | None
    priority: int


def pget(query: Mapping[str, str]) -> PGet:
    q = fold(query)
    return PGet(
        ack=integer(q, "ack"),
        timeout=integer(q, "timeout"),
        low=integer(q, "low"),
        medium=integer(q, "medium"),
        priority=integer(q, "priority", minimum=0) or 0,
    )


def user_agent_allowed(cmd: CreateApplication, denylist: tuple[str, ...]) -> None:
    """The operator's user-agent policy: a denied agent gets 403 UserAgentNotAllowed (SPEC §7.2)."""
    if any(p and p.lower() in cmd.user_agent.lower() for p in denylist):
        raise errors.UcwaError(errors.USER_AGENT_NOT_ALLOWED)


# ---------------------------------------------------------------------------------------------
# messaging (SPEC §13–§17)

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


# Text charsets of the web that clients really send: UTF-8 and the legacy ones. Python knows many
# more codecs (unicode_escape, utf-7, rot13, …) that are no text encoding of a web body.
WEB_CHARSETS = frozenset(
    {
        "utf-8",
        "utf8",
        "us-ascii",
        "ascii",
        "iso-8859-1",
        "latin1",
        "latin-1",
        "iso-8859-15",
        "windows-1252",
        "cp1252",
        "utf-16",
        "utf-16le",
        "utf-16be",
    }
)


def decode_text(raw: bytes, charset: str | None) -> str:
    if charset is not None and charset.lower() not in WEB_CHARSETS:
        raise errors.UcwaError(
            errors.UNSUPPORTED_MEDIA_TYPE, f"The charset {charset[:40]!r} is not accepted."
        )
    try:
        return raw.decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        raise errors.UcwaError(
            errors.DESERIALIZATION_FAILURE, "The body is not valid text in its charset."
        ) from None


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
