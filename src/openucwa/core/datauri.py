"""Message text in data URIs (SPEC §15.5): form-urlencoded UTF-8 out, several encodings in."""

from __future__ import annotations

import base64
import binascii
import html
import re
from urllib.parse import quote_plus, unquote_plus, unquote_to_bytes

_TAG = re.compile(r"<[^>]*>")


def encode(text: str, content_type: str = "text/plain") -> str:
    return f"data:{content_type};charset=utf-8,{quote_plus(text, safe='')}"


def decode(value: str) -> tuple[str, str]:
    """(text, content type) from a data URI, or a plain string taken as text/plain."""
    if not value.startswith("data:"):
        return value, "text/plain"
    header, _, payload = value[5:].partition(",")
    parts = [p.strip() for p in header.split(";")]
    ctype = (parts[0] or "text/plain").lower()
    charset = next(
        (p.split("=", 1)[1].strip("'\"") for p in parts[1:] if p.lower().startswith("charset=")), "utf-8"
    )
    if any(p.lower() == "base64" for p in parts[1:]):
        try:
            raw = base64.b64decode(unquote_plus(payload), validate=False)
        except (binascii.Error, ValueError):
            raise ValueError("invalid base64 data URI") from None
    else:
        raw = unquote_to_bytes(payload.replace("+", " "))
    try:
        return raw.decode(charset), ctype
    except (LookupError, UnicodeDecodeError):
        raise ValueError("data URI text is not valid in its charset") from None


def strip_tags(markup: str) -> str:
    """The plain form of an HTML message; HTML is relayed, never interpreted, beyond this."""
    return html.unescape(_TAG.sub("", markup))
