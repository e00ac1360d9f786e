"""Resources as HAL-style dicts (SPEC §3.3): properties, ``_links``, ``_embedded`` and ``rel``.

Everything returns plain dicts; turning them into bytes is the edge's job. Properties whose value is
None are omitted, as the spec says "properties with no value are omitted (not null)".
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import orjson

Json = dict[str, Any]
Link = dict[str, str]


def link(href: str, title: str | None = None) -> Link:
    out = {"href": href}
    if title is not None:
        out["title"] = title
    return out


def resource(
    rel: str,
    self_href: str,
    props: Json | None = None,
    links: Mapping[str, Link | list[Link] | None] | None = None,
    embedded: Json | None = None,
) -> Json:
    out: Json = {k: v for k, v in (props or {}).items() if v is not None}
    all_links: dict[str, Any] = {"self": {"href": self_href}}
    for name, value in (links or {}).items():
        if value is not None:
            all_links[name] = value
    out["_links"] = all_links
    if embedded:
        out["_embedded"] = embedded
    out["rel"] = rel
    return out


def json_date(ms: int) -> str:
    """An ASP.NET AJAX date; the edge escapes the slashes as the seed shows (SPEC §3.2)."""
    return f"/Date({ms})/"


def etag(res: Json) -> str:
    """A stable ETag of a resource's own content; embedded resources do not count (SPEC §3.6)."""
    own = {k: v for k, v in res.items() if k not in ("_embedded", "etag")}
    return str(zlib.crc32(orjson.dumps(own, option=orjson.OPT_SORT_KEYS)))
