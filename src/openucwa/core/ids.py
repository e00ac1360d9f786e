"""Identifier shapes (SPEC §3.1) and the user-segment normalisation every lookup shares.

Generation needs randomness, which is the caller's job; core only formats and validates, so the
same bytes always give the same id.
"""

from __future__ import annotations

import re
from typing import NewType
from urllib.parse import unquote

ApplicationId = NewType("ApplicationId", str)
UserUri = NewType("UserUri", str)
"""A user as it appears in paths: ``lenea@contoso.com`` (no scheme, lower-case)."""

_USER_RE = re.compile(r"^[a-z0-9._%+'-]+@[a-z0-9.-]+\.[a-z]{2,}$")


def application_id_from(random_bytes: bytes) -> ApplicationId:
    """A 12-digit decimal id: the seed's ids are decimal, and 12 digits keep guessing pointless."""
    n = int.from_bytes(random_bytes[:8], "big") % 900_000_000_000 + 100_000_000_000
    return ApplicationId(str(n))


def hex_id_from(random_bytes: bytes) -> str:
    """32 lower-case hex characters, the shape of conversation and invitation ids."""
    return random_bytes[:16].hex()


def normalize_user(value: str) -> UserUri | None:
    """``sip:LeneA%40contoso.com`` → ``lenea@contoso.com``; None when it is not a user address."""
    v = unquote(value.strip())
    if v[:4].lower() == "sip:":
        v = v[4:]
    v = v.lower()
    return UserUri(v) if _USER_RE.match(v) else None


def sip(user: str) -> str:
    return f"sip:{user}"
