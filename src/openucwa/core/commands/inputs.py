"""The shapes every input is read in: names folded to lower case (SPEC §3.4), strings with limits,
choices, integers as ASCII decimal within 64 bits, text in a web charset. Each failure is the
UcwaError naming the input."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .. import errors


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
