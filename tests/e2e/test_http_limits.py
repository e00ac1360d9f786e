"""What one connection may make the server hold (findings of issue #10: headers of any size were
accepted, and idle, half-sent or stalled requests stayed open indefinitely). Raw sockets against a
real server: the socket deadlines are what is tested, so waits are bounded polls of the socket."""

from __future__ import annotations

import socket
import time
import uuid
from urllib.parse import urlsplit

import pytest

from .ucwa import sign_in

LIMITS = {
    "OPENUCWA_MAX_HEADER_BYTES": "4096",
    "OPENUCWA_MAX_HEADERS": "20",
    "OPENUCWA_MAX_REQUEST_LINE": "1024",
    "OPENUCWA_HEADER_TIMEOUT": "1",
    "OPENUCWA_BODY_TIMEOUT": "1",
    "OPENUCWA_KEEP_ALIVE_TIMEOUT": "1",
}

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the protocol, not the store


def _connect(base: str) -> socket.socket:
    u = urlsplit(base)
    s = socket.create_connection((u.hostname, u.port), timeout=5)
    return s


def _answer(s: socket.socket, within: float = 5.0) -> bytes:
    """Everything the server sends until it closes (bounded)."""
    s.settimeout(within)
    out = b""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk
    raise AssertionError(f"the server kept the connection open: {out[:200]!r}")


@pytest.fixture
def limited(make_server):  # type: ignore[no-untyped-def]
    return make_server("--no-event-aggregation", env=LIMITS)


@sqlite_only
@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 1_000_000, 431),  # never even finished
        (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(30)) + b"\r\n", 431),
        (b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    ],
    ids=["big-header", "endless-header", "many-headers", "long-line"],
)
def test_oversized_heads_are_refused(limited, request_bytes: bytes, status: int) -> None:  # type: ignore[no-untyped-def]
    with _connect(limited.base) as s:
        try:
            s.sendall(request_bytes)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused while still sending: the answer is already waiting
        answer = _answer(s)
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:100]
    assert answer.count(b"HTTP/1.1 ") == 1, answer  # one answer, nothing after it
    assert b"connection: close" in answer.lower()


@sqlite_only
@pytest.mark.parametrize(
    "partial",
    [
        b"",
        b"GET / HTTP/1.1\r\nHost: a\r\n",
        b"POST /WebTicket/oauthtoken HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nab",
    ],
    ids=["idle", "slow-headers", "stalled-body"],
)
def test_idle_slow_and_stalled_requests_are_closed(limited, partial: bytes) -> None:  # type: ignore[no-untyped-def]
    with _connect(limited.base) as s:
        s.sendall(partial)
        t0 = time.monotonic()
        answer = _answer(s)
    assert time.monotonic() - t0 < 4
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408 "), answer[:100]


@sqlite_only
def test_idle_keep_alive_connections_are_closed(limited) -> None:  # type: ignore[no-untyped-def]
    with _connect(limited.base) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\n\r\n")
        s.settimeout(5)
        first = s.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        assert _answer(s) == b""  # nothing more: closed after the keep-alive timeout


@sqlite_only
def test_half_sent_requests_do_not_starve_others_and_held_pgets_are_untouched(limited) -> None:  # type: ignore[no-untyped-def]
    import threading

    import httpx

    stalled = [_connect(limited.base) for _ in range(100)]
    try:
        for s in stalled:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")
        sess = sign_in(limited.base, "toshm@contoso.com", "tosh-secret", str(uuid.uuid4()))
        result: dict[str, httpx.Response] = {}

        def hold() -> None:
            result["r"] = sess.get(sess.app["_links"]["events"]["href"], timeout=30)

        t = threading.Thread(target=hold)
        t.start()
        t.join(2.5)  # longer than the header and body timeouts: a held P-GET is not "slow"
        assert t.is_alive()
        sess.make_me_available()
        t.join(10)
        assert result["r"].status_code == 200 and result["r"].json()["sender"]
    finally:
        for s in stalled:
            s.close()
