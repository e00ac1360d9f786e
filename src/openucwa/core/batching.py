"""The ``multipart/batching`` wire format of ``POST A/batch`` (SPEC §10), both ways, without I/O.

A batch is a MIME multipart body whose parts are HTTP/1.1 messages (``application/http``). Parsing
is written out here rather than handed to ``email``: the format is small, every step must be
bounded (parts, head bytes, header count, no nesting), and the deployed clients it must read send
LF-only lines, quoted boundaries, ``Name : value`` headers and no closing delimiter, which a strict
MIME parser either refuses or reads in a way that is hard to bound. Each rule costs one regular
expression or one comparison, so the work is linear in the body.

Anything malformed is a ``UcwaError`` (400 BadRequest, 415 for an outer type that is not
``multipart/batching``, 429 past ``MAX_PARTS``); what a part asks for is not judged here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

from . import errors
from .errors import UcwaError

BATCH_TYPE = "multipart/batching"
PART_REQUEST_TYPE = "application/http; msgtype=request"
PART_RESPONSE_TYPE = "application/http; msgtype=response"
# The documented limit on outstanding requests of one user (BatchingRequests.md); a batch with more
# parts than this could never run, so it is answered 429 like one that meets a full allowance.
MAX_PARTS = 100
MAX_HEAD_BYTES = 16 * 1024  # a part's MIME headers, and separately its request line and headers
MAX_HEADERS = 64  # per head

_BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")  # RFC 2046 bchars
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_REQUEST_LINE = re.compile(r"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) +([\x21-\x7e]+)(?: +HTTP/1\.([01]))? *$")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_LINE_END = re.compile(rb"\r?\n")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_IDENTITY_ENCODINGS = frozenset({"", "binary", "7bit", "8bit"})


@dataclass(frozen=True, slots=True)
class PartRequest:
    """One request of a batch: its target in origin form (``/path?query``) and its own headers."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


@dataclass(frozen=True, slots=True)
class PartResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def _malformed(message: str) -> UcwaError:
    return UcwaError(errors.BAD_REQUEST, message)


def _params(value: str) -> tuple[str, dict[str, str]]:
    """A media type and its parameters (names lower-cased, values unquoted)."""
    kind, *rest = value.split(";")
    params: dict[str, str] = {}
    for p in rest:
        name, _, v = p.partition("=")
        params[name.strip().lower()] = v.strip().strip('"')
    return kind.strip().lower(), params


def boundary_of(content_type: str) -> str:
    """The boundary of a batch's ``Content-Type`` (quoted or not); 415 for another media type."""
    kind, params = _params(content_type)
    if kind != BATCH_TYPE:
        raise UcwaError(
            errors.UNSUPPORTED_MEDIA_TYPE, f"A batch is {BATCH_TYPE}, not {kind or '(no Content-Type)'}."
        )
    boundary = params.get("boundary", "")
    if not _BOUNDARY.match(boundary):
        raise _malformed("The batch's Content-Type has no valid boundary.")
    return boundary


def _split_head(data: bytes) -> tuple[list[str], bytes]:
    """Header lines up to the first blank line, and what follows it. A head without a blank line
    runs to the end (clients leave out the last empty line)."""
    if data.startswith((b"\r\n", b"\n")):
        return [], data[2:] if data.startswith(b"\r\n") else data[1:]
    blank = _BLANK_LINE.search(data, 0, MAX_HEAD_BYTES + 4)
    head, rest = (
        (data.rstrip(b"\r\n"), b"") if blank is None else (data[: blank.start()], data[blank.end() :])
    )
    if len(head) > MAX_HEAD_BYTES:
        raise _malformed(f"A part's head exceeds {MAX_HEAD_BYTES} bytes.")
    lines = [line.decode("latin-1") for line in _LINE_END.split(head)]
    if len(lines) > MAX_HEADERS + 1:
        raise _malformed(f"A part has more than {MAX_HEADERS} headers.")
    return lines, rest


def _headers(lines: Sequence[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for line in lines:
        name, colon, value = line.partition(":")
        name = name.rstrip()  # "Content-Type : …", as batch_ref.md prints it
        if not colon or not _TOKEN.match(name):  # obsolete folding starts with a space: refused too
            raise _malformed("A header line in the batch is not 'Name: value'.")
        value = value.strip(" \t")
        if _BAD_VALUE.search(value):
            raise _malformed("A header value in the batch holds a control character.")
        out.append((name, value))
    return tuple(out)


def _target(raw: str) -> str:
    """Origin form; an absolute URL keeps its path and query (SPEC §10); the host is the batch's."""
    if raw.startswith("/"):
        return raw.split("#", 1)[0]
    if raw.lower().startswith(("http://", "https://")):
        url = urlsplit(raw)
        return (url.path or "/") + (f"?{url.query}" if url.query else "")
    raise _malformed("A batched request's target is not a path or an absolute URL.")


def _part(content: bytes) -> PartRequest:
    mime_lines, message = _split_head(content)
    mime = {k.lower(): v for k, v in _headers(mime_lines)}
    kind, params = _params(mime.get("content-type", "application/http"))
    if kind.startswith("multipart/"):
        raise _malformed("A batch part cannot itself be multipart.")
    if kind != "application/http" or params.get("msgtype", "request").lower() != "request":
        raise _malformed(f"Each part of a batch is {PART_REQUEST_TYPE}.")
    if mime.get("content-transfer-encoding", "").lower() not in _IDENTITY_ENCODINGS:
        raise _malformed("A batch part must not be transfer-encoded (binary, 7bit or 8bit).")
    message = message.lstrip(b"\r\n")  # empty lines before a request line are ignored (RFC 9112)
    lines, rest = _split_head(message)
    line = _REQUEST_LINE.match(lines[0]) if lines else None
    if line is None:
        raise _malformed("A batch part has no request line ('GET /path HTTP/1.1').")
    headers = _headers(lines[1:])
    names = {k.lower() for k, _ in headers}
    if "transfer-encoding" in names:
        raise _malformed("A batched request cannot be chunked; give its Content-Length or none.")
    body = rest
    if "content-length" in names:
        declared = next(v for k, v in headers if k.lower() == "content-length")
        if not declared.isascii() or not declared.isdigit() or int(declared) > len(rest):
            raise _malformed("A batched request's Content-Length does not match its body.")
        body = rest[: int(declared)]
        if rest[len(body) :].strip(b" \t\r\n"):
            raise _malformed("A batch part holds more than one request.")
    return PartRequest(line[1], _target(line[2]), headers, body)


def _delimiters(boundary: str) -> re.Pattern[bytes]:
    # A delimiter line: at the start of a line, "--boundary", "--" if it closes, padding, line end.
    return re.compile(rb"(?<![^\n])--" + re.escape(boundary.encode("ascii")) + rb"(--)?[ \t]*(?:\r?\n|\Z)")


def parse(body: bytes, boundary: str) -> list[PartRequest]:
    """The requests of a batch body in order. A missing closing delimiter is tolerated (the example
    in GroupingRequestsInABatch.md ends without one); preamble and epilogue are ignored."""
    contents: list[bytes] = []
    start: int | None = None
    closed = False
    for m in _delimiters(boundary).finditer(body):
        if start is not None:
            end = m.start()
            end -= 2 if body[end - 2 : end] == b"\r\n" else 1 if body[end - 1 : end] == b"\n" else 0
            contents.append(body[start : max(start, end)])
            if len(contents) > MAX_PARTS:
                raise UcwaError(errors.TOO_MANY_REQUESTS, f"A batch holds at most {MAX_PARTS} requests.")
        start = m.end()
        if m[1]:
            closed = True
            break
    if start is None:
        raise _malformed("The batch body holds no delimiter of its boundary.")
    if not closed and body[start:].strip(b" \t\r\n"):
        contents.append(body[start:])
        if len(contents) > MAX_PARTS:
            raise UcwaError(errors.TOO_MANY_REQUESTS, f"A batch holds at most {MAX_PARTS} requests.")
    if not contents:
        raise _malformed("The batch holds no request.")
    return [_part(c) for c in contents]


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def serialize(responses: Sequence[PartResponse]) -> tuple[str, bytes]:
    """(Content-Type, body) of the batch's answer: one part per response, CRLF lines, no BOM."""
    boundary = str(uuid.uuid4())
    while any(boundary.encode() in r.body for r in responses):  # vanishingly rare: draw again
        boundary = str(uuid.uuid4())
    out = bytearray()
    for r in responses:
        head = [f"HTTP/1.1 {r.status} {_reason(r.status)}", *(f"{k}: {v}" for k, v in r.headers)]
        out += f"--{boundary}\r\nContent-Type: {PART_RESPONSE_TYPE}\r\n\r\n".encode("latin-1")
        out += ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + r.body + b"\r\n"
    out += f"--{boundary}--\r\n".encode("latin-1")
    return f'{BATCH_TYPE}; boundary="{boundary}"', bytes(out)


class Outstanding:
    """Batched requests each user has in flight on this node, across concurrent batches: a batch
    reserves all its parts before running any, so a refused batch runs none (BatchingRequests.md)."""

    __slots__ = ("_by_user", "limit")

    def __init__(self, limit: int = MAX_PARTS) -> None:
        self.limit = limit
        self._by_user: dict[str, int] = {}

    def reserve(self, user: str, n: int) -> bool:
        held = self._by_user.get(user, 0)
        if held + n > self.limit:
            return False
        self._by_user[user] = held + n
        return True

    def release(self, user: str, n: int = 1) -> None:
        left = self._by_user.get(user, 0) - n
        if left > 0:
            self._by_user[user] = left
        else:
            self._by_user.pop(user, None)

    def held(self, user: str) -> int:
        return self._by_user.get(user, 0)
