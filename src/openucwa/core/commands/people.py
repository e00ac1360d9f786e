"""Inputs of me's publications and of people (SPEC §11, §12): presence, note and location;
directory search; contact list expansion; presence subscriptions and their memberships."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import errors
from ..subscriptions import MAX_MINUTES, MIN_MINUTES
from .applications import publishable_availability
from .inputs import fold, parse_int, text

NOTE_MAX = 512
LOCATION_MAX = 60
SEARCH_DEFAULT = 100
SEARCH_MAX = 100
QUERY_MAX = 256
PUBLICATIONS = ("presence", "note", "location")


@dataclass(frozen=True, slots=True)
class Publish:
    what: str  # presence, note or location
    value: str | None  # None resets it


def publish(what: str, data: Mapping[str, Any]) -> Publish:
    d = fold(data)
    if what == "presence":
        value = text(d, "availability", required=False, max_len=50)
        return Publish(what, publishable_availability(value) if value else None)
    if what == "note":
        return Publish(what, text(d, "message", required=False, max_len=NOTE_MAX))
    return Publish(what, text(d, "location", required=False, max_len=LOCATION_MAX))


@dataclass(frozen=True, slots=True)
class Search:
    query: str
    limit: int


def search(params: Mapping[str, Any]) -> Search:
    """``query`` required (≤256 chars), ``limit`` 1–100 default 100; anything else is a 400."""
    folded = fold(params)
    query = folded.get("query")
    if not isinstance(query, str) or not query.strip():
        raise errors.invalid({"query": "required"}, "A search needs a query.")
    if len(query) > QUERY_MAX:
        raise errors.invalid({"query": f"at most {QUERY_MAX} characters"})
    raw = folded.get("limit")
    limit = SEARCH_DEFAULT
    if raw not in (None, ""):
        parsed = parse_int(raw)
        if parsed is None:
            raise errors.invalid({"limit": "not a number"})
        limit = parsed
        if not 1 <= limit <= SEARCH_MAX:
            raise errors.invalid({"limit": f"between 1 and {SEARCH_MAX}"})
    return Search(query.strip(), limit)


def expand(params: Mapping[str, Any]) -> bool:
    raw = str(fold(params).get("expand", "true")).lower()
    if raw not in ("true", "false"):
        raise errors.invalid({"expand": "true or false"})
    return raw == "true"


def duration(data: Mapping[str, Any]) -> int:
    """``duration`` in minutes, required, an integer 10–30 (decimal digits in a string too)."""
    raw = fold(data).get("duration")
    if raw is None or raw == "":
        raise errors.invalid({"duration": "required"}, "A duration in minutes is required.")
    if isinstance(raw, float):
        if not raw.is_integer():
            raise errors.invalid({"duration": "a whole number of minutes"})
        raw = int(raw)
    value = parse_int(raw.strip(" \t") if isinstance(raw, str) else raw)
    if value is None:
        raise errors.invalid({"duration": "not a number"})
    if not MIN_MINUTES <= value <= MAX_MINUTES:
        raise errors.invalid({"duration": f"between {MIN_MINUTES} and {MAX_MINUTES} minutes"})
    return value


def user_of(uri: Any) -> str | None:
    """``sip:lenea@contoso.com`` (or a bare address) → ``lenea@contoso.com``; None if malformed."""
    if not isinstance(uri, str):
        return None
    address = uri.strip().lower()
    if address.startswith("sip:"):
        address = address[4:]
    local, at, domain = address.partition("@")
    if not at or not local or not domain or any(c in address for c in " /?#,"):
        return None
    return address


def uris(data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """A required, non-empty list of SIP URIs, deduplicated in order (malformed ones are a 400)."""
    raw = fold(data).get(name.lower())
    if not isinstance(raw, list) or not raw:
        raise errors.invalid({name: "a non-empty list of SIP URIs"})
    out: list[str] = []
    for item in raw:
        user = user_of(item)
        if user is None:
            raise errors.invalid({name: f"not a SIP URI: {str(item)[:100]}"})
        if user not in out:
            out.append(user)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class CreateSubscription:
    minutes: int
    group_id: str | None  # a contact group's members, or …
    uris: tuple[str, ...]  # … these people (empty with a group)


def create_subscription(data: Mapping[str, Any], group_id: str | None) -> CreateSubscription:
    minutes = duration(data)
    if group_id is not None:
        return CreateSubscription(minutes, group_id.lower(), ())
    return CreateSubscription(minutes, None, uris(data, "uris"))


@dataclass(frozen=True, slots=True)
class AddMemberships:
    subscription: str
    uris: tuple[str, ...]


def add_memberships(data: Mapping[str, Any], subscription: str | None) -> AddMemberships:
    if subscription is None:
        raise errors.invalid({"presenceSubscriptionId": "required"})
    return AddMemberships(subscription, uris(data, "contactUris"))
