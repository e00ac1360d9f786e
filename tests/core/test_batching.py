"""The multipart/batching reader and writer (SPEC §10): the documented shapes, the deployed
clients' looser ones, and bounds. A Hypothesis run feeds it arbitrary and mutated bodies: it answers
requests or a 4xx UcwaError, never another exception, and in linear time."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openucwa.core import batching
from openucwa.core.batching import Outstanding, PartRequest, PartResponse
from openucwa.core.errors import UcwaError

# As BatchingRequests.md shows it (LF lines as the page renders them, no closing blank line).
DOCUMENTED = b"""--77f2569d-c005-442b-b856-782305305e5f
Content-Type: application/http; msgtype=request

GET /ucwa/oauth/v1/applications/103/people/contacts HTTP/1.1
Host: lyncweb.contoso.com
Accept: application/json

--77f2569d-c005-442b-b856-782305305e5f
Content-Type: application/http; msgtype=request

GET /ucwa/oauth/v1/applications/103/me HTTP/1.1
Host: lyncweb.contoso.com
Accept: application/json

--77f2569d-c005-442b-b856-782305305e5f--
"""


def crlf(*parts: bytes, boundary: bytes = b"b1", close: bool = True) -> bytes:
    out = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
    return out + (b"--" + boundary + b"--\r\n" if close else b"")


def http_part(line: bytes, *headers: bytes, body: bytes = b"") -> bytes:
    head = b"Content-Type: application/http; msgtype=request\r\n\r\n" + line + b"\r\n"
    return head + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


def test_the_documented_batch() -> None:
    parts = batching.parse(DOCUMENTED, "77f2569d-c005-442b-b856-782305305e5f")
    assert [(p.method, p.target) for p in parts] == [
        ("GET", "/ucwa/oauth/v1/applications/103/people/contacts"),
        ("GET", "/ucwa/oauth/v1/applications/103/me"),
    ]
    assert parts[0].header("accept") == "application/json" and parts[0].body == b""


def test_the_grouping_example_without_a_closing_delimiter() -> None:
    body = DOCUMENTED.replace(
        b"--77f2569d-c005-442b-b856-782305305e5f--\n", b"\n--77f2569d-c005-442b-b856-782305305e5f\n"
    )
    assert len(batching.parse(body, "77f2569d-c005-442b-b856-782305305e5f")) == 2


def test_a_post_with_its_body_kept_byte_for_byte() -> None:
    json_body = b'{"to":"sip:lenea@contoso.com"}'
    xml_body = b'<input xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa"/>\r\n'
    body = crlf(
        http_part(b"POST /a HTTP/1.1", b"Content-Type: application/json", body=json_body),
        http_part(
            b"POST https://lyncweb.contoso.com/b?x=1#frag HTTP/1.1",
            b"Content-Type : application/vnd.microsoft.com.ucwa+xml",
            b"Content-Length: %d" % len(xml_body),
            body=xml_body,
        ),
    )
    a, b = batching.parse(body, "b1")
    assert (a.method, a.target, a.body) == ("POST", "/a", json_body)
    assert (b.target, b.body, b.header("content-type")) == (
        "/b?x=1",
        xml_body,
        "application/vnd.microsoft.com.ucwa+xml",
    )


def test_boundary_from_the_content_type() -> None:
    assert batching.boundary_of('multipart/batching;boundary="EA370946"') == "EA370946"
    assert batching.boundary_of("Multipart/Batching; charset=utf-8; boundary=x-y") == "x-y"
    with pytest.raises(UcwaError) as e:
        batching.boundary_of("application/json")
    assert e.value.status == 415
    for bad in ("multipart/batching", "multipart/batching; boundary=", "multipart/batching; boundary=a\x00b"):
        with pytest.raises(UcwaError) as e:
            batching.boundary_of(bad)
        assert e.value.status == 400


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"no delimiter at all", "delimiter"),
        (b"--b1--\r\n", "no request"),
        (
            crlf(
                b"Content-Type: multipart/batching; boundary=b2\r\n\r\n"
                + crlf(http_part(b"GET /a"), boundary=b"b2")
            ),
            "multipart",
        ),
        (crlf(b"Content-Type: text/plain\r\n\r\nGET /a HTTP/1.1\r\n"), "application/http"),
        (
            crlf(b"Content-Type: application/http; msgtype=response\r\n\r\nHTTP/1.1 200 OK\r\n"),
            "application/http",
        ),
        (
            crlf(b"Content-Type: application/http\r\nContent-Transfer-Encoding: base64\r\n\r\nR0VU"),
            "transfer-encoded",
        ),
        (crlf(http_part(b"GET")), "request line"),
        (crlf(http_part(b"GET relative HTTP/1.1")), "target"),
        (crlf(http_part(b"GET /a HTTP/2.0")), "request line"),
        (crlf(http_part(b"GET /\xe9 HTTP/1.1")), "request line"),
        (crlf(http_part(b"GET /a HTTP/1.1", b"Bad Name: x")), "Name: value"),
        (crlf(http_part(b"GET /a HTTP/1.1", b"X: 1", b" folded")), "Name: value"),
        (crlf(http_part(b"GET /a HTTP/1.1", b"X: a\x00b")), "control"),
        (crlf(http_part(b"POST /a HTTP/1.1", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n")), "chunked"),
        (crlf(http_part(b"POST /a HTTP/1.1", b"Content-Length: 9", body=b"abc")), "Content-Length"),
        (crlf(http_part(b"POST /a HTTP/1.1", b"Content-Length: -1", body=b"abc")), "Content-Length"),
        (
            crlf(http_part(b"POST /a HTTP/1.1", b"Content-Length: 1", body=b"aGET /b HTTP/1.1")),
            "more than one",
        ),
        (crlf(http_part(b"GET /a HTTP/1.1", *(b"X-%d: 1" % i for i in range(100)))), "headers"),
        (crlf(http_part(b"GET /a HTTP/1.1", b"X: " + b"a" * 20000)), "exceeds"),
    ],
)
def test_malformed_is_400(body: bytes, why: str) -> None:
    with pytest.raises(UcwaError) as e:
        batching.parse(body, "b1")
    assert e.value.status == 400 and why in e.value.body()["message"]


def test_more_than_100_parts_is_429() -> None:
    part = http_part(b"GET /a HTTP/1.1")
    assert len(batching.parse(crlf(*[part] * 100), "b1")) == 100
    for close in (True, False):
        with pytest.raises(UcwaError) as e:
            batching.parse(crlf(*[part] * 101, close=close), "b1")
        assert e.value.status == 429


def test_delimiter_only_at_a_line_start() -> None:
    body = crlf(http_part(b"POST /a HTTP/1.1", body=b"text --b1 and --b1x\r\n--b1x not a delimiter"))
    (part,) = batching.parse(body, "b1")
    assert part.body == b"text --b1 and --b1x\r\n--b1x not a delimiter"


def test_preamble_and_epilogue_are_ignored() -> None:
    body = b"preamble\r\n" + crlf(http_part(b"GET /a HTTP/1.1")) + b"epilogue --b1\r\n"
    assert [p.target for p in batching.parse(body, "b1")] == ["/a"]


def test_serialize_reads_back_as_the_documented_response() -> None:
    answers = [
        PartResponse(200, (("Content-Type", "application/json; charset=utf-8"), ("ETag", '"1"')), b'{"a":1}'),
        PartResponse(201, (("Location", "/x"), ("Content-Length", "0")), b""),
        PartResponse(599, (), b"--"),
    ]
    content_type, body = batching.serialize(answers)
    assert content_type.startswith('multipart/batching; boundary="')
    boundary = content_type.split('"')[1]
    assert body.startswith(
        f"--{boundary}\r\nContent-Type: application/http; msgtype=response\r\n\r\n".encode()
    )
    assert (
        b"\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
        b'ETag: "1"\r\n\r\n{"a":1}\r\n' in body
    )
    assert b"HTTP/1.1 201 Created\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n\r\n" in body
    assert b"HTTP/1.1 599 Unknown\r\n" in body and body.endswith(f"--{boundary}--\r\n".encode())
    assert body.count(f"--{boundary}\r\n".encode()) == 3 and b"\xef\xbb\xbf" not in body


def test_outstanding_counts_across_batches() -> None:
    o = Outstanding(limit=100)
    assert o.reserve("toshm@contoso.com", 60) and not o.reserve("toshm@contoso.com", 41)
    assert o.reserve("lenea@contoso.com", 100)  # per user
    assert o.reserve("toshm@contoso.com", 40)
    o.release("toshm@contoso.com", 50)
    assert o.held("toshm@contoso.com") == 50
    o.release("toshm@contoso.com", 50)
    assert o.held("toshm@contoso.com") == 0 and o.reserve("toshm@contoso.com", 100)


# Fuzz: mutate well-formed batches (cut, splice, duplicate, flip bytes) and throw raw bytes at it.
PIECES = st.sampled_from(
    [
        b"--b1",
        b"--b1--",
        b"\r\n",
        b"\n",
        b"\r",
        b"Content-Type: application/http; msgtype=request",
        b"Content-Type: multipart/mixed; boundary=b1",
        b"Content-Length: 3",
        b"Content-Length: 99999999999999999999",
        b"Transfer-Encoding: chunked",
        b"GET /ucwa/oauth/v1/applications/1/me HTTP/1.1",
        b"POST http://h/x?y HTTP/1.0",
        b"Host: h",
        b": ",
        b" ",
        b"\x00",
        b"\xff",
        b"{}",
    ]
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    base = crlf(
        http_part(b"GET /a HTTP/1.1", b"Accept: application/json"),
        http_part(b"POST /b HTTP/1.1", b"Content-Length: 2", body=b"{}"),
    )
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.binary(max_size=600))
    if kind == 1:
        return b"".join(draw(st.lists(PIECES, max_size=60)))
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.integers(0, 2))
        if op == 0:
            del data[at : at + draw(st.integers(1, 20))]
        elif op == 1:
            data[at:at] = draw(PIECES)
        elif at < len(data):
            data[at] = draw(st.integers(0, 255))
    return bytes(data)


@settings(max_examples=1500, deadline=None)
@given(bodies())
def test_fuzz_parser_answers_or_refuses_with_4xx(body: bytes) -> None:
    try:
        parts = batching.parse(body, "b1")
    except UcwaError as e:
        assert 400 <= e.status < 500
        return
    assert 1 <= len(parts) <= batching.MAX_PARTS
    for p in parts:
        assert isinstance(p, PartRequest) and p.target.startswith("/")


@pytest.mark.parametrize(
    "body",
    [
        b"-" * 1_000_000,
        b"--b1" * 250_000,
        b"\n--b1 " * 150_000,
        b"--b1\r\n" + b"\n" * 1_000_000,
        b"--b1\r\nX: " + b" " * 1_000_000,
        b"--b1\r\n" + b"\r\n" + b"GET /a HTTP/1.1\r\n" + b"X:\r\n" * 200_000,
    ],
)
def test_worst_case_bodies_stay_linear(body: bytes) -> None:
    """A hang guard, not a speed target: 1 MiB bodies of the shapes that could make a scanner go
    quadratic are done in about 20 ms; a quadratic scan of 1 MiB would take hours, not 5 s."""
    began = time.perf_counter()
    with pytest.raises(UcwaError):
        batching.parse(body, "b1")
    assert time.perf_counter() - began < 5.0
