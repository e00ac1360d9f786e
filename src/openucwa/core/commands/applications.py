"""Inputs of the application and its me resource (SPEC §7, §10, §11): create, makeMeAvailable,
the event channel's query, and the operator's user-agent policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import errors
from .inputs import choice, fold, integer, string_list, text

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
