"""JSON bytes as UCWA puts them on the wire: compact UTF-8, ASP.NET dates with escaped slashes."""

from __future__ import annotations

from typing import Any

import orjson


def dumps(obj: Any) -> bytes:
    raw = orjson.dumps(obj)
    if b'"/Date(' in raw:
        raw = raw.replace(b'"/Date(', b'"\\/Date(').replace(b')/"', b')\\/"')
    return raw
