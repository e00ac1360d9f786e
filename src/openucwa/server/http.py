"""HTTP edge helpers: reading bodies under the limit, turning them into plain inputs, and UCWA
responses.

How a body is read (size limit, JSON, XML or form, charset; SPEC §3.2, §3.4) is decided here; what
its values may be is decided in ``core.commands``, which turns these inputs into typed commands.
Which representation a response takes (JSON or XML, from Accept) is decided here too, for every
resource, error and event page: ``response_type`` negotiates, ``encode`` renders.
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Callable, Mapping
from email.message import Message
from email.parser import BytesParser
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..core import errors, xml_wire
from ..core.commands import decode_text, parse_int
from ..core.errors import UcwaError
from ..core.hal import etag as compute_etag
from ..wire import dumps
from .xml_input import parse_input as parse_xml_input

JSON_TYPES = ("application/json", "application/vnd.microsoft.com.ucwa+json")
XML_TYPES = ("application/vnd.microsoft.com.ucwa+xml", "application/xml")
# On every response: no content sniffing, no Referer leaking a conversation's href to a link's target.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
# API answers are per user: nothing may keep them (no-store), and the seed's no-cache stays for
# clients that look for it.
UCWA_HEADERS = {"Cache-Control": "no-cache, no-store", "X-MS-UcwaVersion": "1.0", **SECURITY_HEADERS}
_TRAILING_COMMA = re.compile(rb",(\s*[}\]])")


def media_type(request: Request) -> tuple[str, str | None]:
    """(type, charset) with the charset unquoted and lower-cased (``charset='utf-8'`` occurs)."""
    raw = request.headers.get("content-type", "")
    parts = [p.strip() for p in raw.split(";")]
    charset = None
    for p in parts[1:]:
        name, _, value = p.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("'\"").lower() or None
    return parts[0].lower(), charset


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` (no buffering past it)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        size = parse_int(declared)
        if size is None or size < 0:
            raise UcwaError(errors.BAD_REQUEST, "Content-Length is not a number.")
        if size > limit:
            raise UcwaError(errors.ENTITY_TOO_LARGE, f"The body exceeds {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise UcwaError(errors.ENTITY_TOO_LARGE, f"The body exceeds {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Strict JSON first; then once more without trailing commas, which the docs' samples carry."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            value = orjson.loads(_TRAILING_COMMA.sub(rb"\1", raw))
        except orjson.JSONDecodeError:
            raise UcwaError(errors.DESERIALIZATION_FAILURE, "The body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise UcwaError(errors.DESERIALIZATION_FAILURE, "The body must be a JSON object.")
    return value


async def resource_input(request: Request, limit: int) -> dict[str, Any]:
    """Resource input: a JSON object or an XML ``input`` element, as Content-Type says, or nothing
    at all whatever Content-Type says (SPEC §3.4). Both give the same plain dict."""
    raw = await read_body(request, limit)
    if not raw.strip():
        return {}
    kind, charset = media_type(request)
    if kind in XML_TYPES:
        if charset is None:
            return parse_xml_input(raw)  # the XML declaration (or a BOM) names the encoding
        return parse_xml_input(decode_text(raw, charset).encode(), "utf-8")
    if kind not in JSON_TYPES:
        raise UcwaError(
            errors.UNSUPPORTED_MEDIA_TYPE, f"Content-Type {kind or '(none)'} is not accepted here."
        )
    if charset not in (None, "utf-8", "utf8"):
        return parse_json_object(decode_text(raw, charset).encode())
    return parse_json_object(raw)


async def empty_input(request: Request, limit: int) -> None:
    """Operations without inputs accept an empty body or an empty input (pyucwa's accept)."""
    data = await resource_input(request, limit)
    del data  # inputs are optional and ignored here


MAX_FORM_PARTS = 20


async def form_input(request: Request, limit: int) -> dict[str, list[str]]:
    """A form, urlencoded (with or without a charset) or multipart/form-data, as clients of the
    token endpoint send it; within the body limit and at most ``MAX_FORM_PARTS`` fields."""
    raw = await read_body(request, limit)
    kind, charset = media_type(request)
    if kind == "multipart/form-data":
        return _multipart_form(raw, request.headers.get("content-type", ""))
    if kind != "application/x-www-form-urlencoded":
        raise UcwaError(errors.UNSUPPORTED_MEDIA_TYPE)
    out: dict[str, list[str]] = {}
    for k, v in parse_qsl(decode_text(raw, charset), keep_blank_values=True, max_num_fields=MAX_FORM_PARTS):
        out.setdefault(k, []).append(v)
    return out


def _multipart_form(raw: bytes, content_type: str) -> dict[str, list[str]]:
    """Text fields of a multipart/form-data body, read with the standard library's MIME parser."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise UcwaError(errors.DESERIALIZATION_FAILURE, "The multipart form could not be parsed.")
    parts = message.get_payload()
    if not isinstance(parts, list) or len(parts) > MAX_FORM_PARTS:
        raise UcwaError(errors.DESERIALIZATION_FAILURE, "The multipart form has too many parts.")
    out: dict[str, list[str]] = {}
    for part in parts:
        if not isinstance(part, Message):
            raise UcwaError(errors.DESERIALIZATION_FAILURE, "The multipart form could not be parsed.")
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes) or part.get_filename() is not None:
            raise UcwaError(errors.DESERIALIZATION_FAILURE, "A form field is not plain text.")
        out.setdefault(name, []).append(decode_text(payload, part.get_content_charset()))
    return out


def query(request: Request) -> dict[str, str]:
    return dict(request.query_params)


def resource_response(
    data: Mapping[str, Any],
    status: int = 200,
    *,
    request: Request | None = None,
    headers: Mapping[str, str] | None = None,
    etag: bool = False,
) -> Response:
    """A resource in the negotiated representation; with ``etag`` it carries the ETag (the same for
    both representations: it names the resource's state) and answers If-None-Match with 304."""
    hdrs = dict(UCWA_HEADERS)
    body_data = dict(data)
    if etag:
        tag = compute_etag(body_data)
        body_data["etag"] = tag
        hdrs["ETag"] = f'"{tag}"'
        if request is not None and etag_matches(request.headers.get("if-none-match"), tag):
            return Response(status_code=304, headers=hdrs)
    if headers:
        hdrs.update(headers)
    kind = response_type(request)
    body = encode(body_data, kind, xml_wire.resource)
    return Response(body, status_code=status, headers=hdrs, media_type=kind)


def event_page_response(body: bytes, request: Request | None = None) -> Response:
    """A batch as the channel stored it (exact JSON bytes), or rendered from them to XML: both are
    functions of the stored bytes, so a replay is byte-identical to the first answer."""
    kind = response_type(request)
    if is_xml(kind):
        body = xml_wire.events(orjson.loads(body))
    return Response(body, headers=dict(UCWA_HEADERS), media_type=kind)


# What we offer, in the order that breaks ties of equal quality and specificity: JSON first.
OFFERED = ("application/json", "application/vnd.microsoft.com.ucwa+json", *XML_TYPES)


def response_type(request: Request | None) -> str:
    """The Content-Type of the representation Accept asks for (SPEC §3.2)."""
    chosen = negotiate(request.headers.get("accept", "") if request is not None else "")
    return "application/json; charset=utf-8" if chosen == "application/json" else chosen


@lru_cache(maxsize=256)
def negotiate(accept: str) -> str:
    """The offered type Accept prefers. Each offered type takes the quality of the most specific
    range that matches it (``a/b`` over ``a/*`` over ``*/*``, RFC 9110 §12.5.1); the best quality
    wins, then the more specific match, then the earlier range, then JSON. JSON when nothing offered
    is acceptable (no header, ``text/html`` alone, a malformed header)."""
    ranges: list[tuple[str, float]] = []
    for item in accept.split(",")[:64]:
        media, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0  # a range with a malformed quality is ignored
        ranges.append((media.lower(), q if 0 <= q <= 1 else 0.0))
    best: tuple[float, int, int, int] = (0.0, 0, 0, 0)
    chosen = OFFERED[0]
    for preference, offered in enumerate(OFFERED):
        match: tuple[int, int, float] | None = None  # (specificity, position, q)
        for position, (media, q) in enumerate(ranges):
            specificity = _matches(media, offered)
            if specificity >= 0 and (match is None or specificity > match[0]):
                match = (specificity, position, q)
        if match is not None and match[2] > 0:
            rank = (match[2], match[0], -match[1], -preference)
            if rank > best:
                best, chosen = rank, offered
    return chosen


def _matches(media_range: str, offered: str) -> int:
    """2 for the type itself, 1 for ``type/*``, 0 for ``*/*``, -1 for no match."""
    if media_range == offered:
        return 2
    if media_range == "*/*":
        return 0
    if media_range.endswith("/*") and offered.startswith(media_range[:-1]):
        return 1
    return -1


def is_xml(content_type: str) -> bool:
    return content_type in XML_TYPES


def encode(data: Mapping[str, Any], content_type: str, to_xml: Callable[[Mapping[str, Any]], bytes]) -> bytes:
    """The body of ``data`` in the negotiated representation: JSON bytes, or ``to_xml``'s."""
    return to_xml(data) if is_xml(content_type) else dumps(data)


def no_content(headers: Mapping[str, str] | None = None) -> Response:
    return Response(status_code=204, headers={**UCWA_HEADERS, **(headers or {})})


def created(location: str) -> Response:
    return Response(status_code=201, headers={**UCWA_HEADERS, "Location": location, "Content-Length": "0"})


def etag_matches(header: str | None, tag: str) -> bool:
    if not header:
        return False
    for part in header.split(","):
        p = part.strip()
        if p.startswith("W/"):
            p = p[2:]
        if p.strip("\"'") == tag or p == "*":
            return True
    return False
