"""Limits on what one connection may make the server hold: header size and count (431), request
line length (414), time to send headers and each piece of a body (408), and connections per
client address.

Theory of operation. uvicorn's httptools protocol buffers whatever a client sends until the
headers are complete and waits for them without a deadline (finding of issue #10: an 8 MiB header
was accepted, 256 MiB took 500 MB and 75 s of CPU; 300 half-sent requests starved the server).
``LimitedProtocol`` counts the bytes of each request's head as they arrive, refusing it the moment
it passes the limit; arms one timer from the first byte of a request (or the connection's opening)
until its headers are complete, and one while a body is being received; and counts open
connections per remote address. A held P-GET has sent its whole request: no timer runs for it and
it costs nothing more than before. Idle keep-alive connections are closed by uvicorn's own
``timeout_keep_alive``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from ..config import Settings
from .protocol import JoinedWritesProtocol

_REASONS = {408: b"Request Timeout", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}
_CODES = {408: "RequestTimeout", 414: "RequestUriTooLong", 431: "RequestHeaderFieldsTooLarge"}
_LOOPBACK = frozenset({"127.0.0.1", "::1"})
LINGER_SECONDS = 1.0
LINGER_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    max_request_line: int = 8 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections_per_client: int = 1024  # 0: no limit; loopback (a local proxy) is never limited

    @classmethod
    def from_settings(cls, s: Settings) -> HttpLimits:
        return cls(
            s.max_header_bytes,
            s.max_headers,
            s.max_request_line,
            s.header_timeout,
            s.body_timeout,
            s.max_connections_per_client,
        )


def _refusal(status: int, message: str) -> bytes:
    body = orjson.dumps({"code": _CODES[status], "message": message})
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status]),
            b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body),
            b"x-content-type-options: nosniff\r\nconnection: close\r\n\r\n",
            body,
        ]
    )


class LimitedProtocol(JoinedWritesProtocol):
    # Slots, not uvicorn's instance dict: seven more keys would grow every connection's dict
    # (1.7 KB per held P-GET).
    __slots__ = ("_counted", "_deadline", "_discarded", "_head", "_header_bytes", "_headers", "_line")
    limits: ClassVar[HttpLimits] = HttpLimits()
    per_client: ClassVar[dict[str, int]] = {}  # one dict per protocol class (see protocol_class)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head = 0  # bytes of the current request's head received so far; -1 once complete
        self._line = 0
        self._headers = 0
        self._header_bytes = 0
        self._deadline: asyncio.TimerHandle | None = None
        self._counted: str | None = None
        self._discarded = -1  # ≥ 0 once refused: what the client still sends is read and dropped

    # connections ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        host = self.client[0] if self.client else None
        cap = self.limits.max_connections_per_client
        if host is not None and cap and host not in _LOOPBACK:
            if self.per_client.get(host, 0) >= cap:
                self.transport.close()  # before reading anything: nothing to answer yet
                return
            self.per_client[host] = self.per_client.get(host, 0) + 1
            self._counted = host
        self._arm(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._counted is not None:
            left = self.per_client.get(self._counted, 1) - 1
            if left > 0:
                self.per_client[self._counted] = left
            else:
                self.per_client.pop(self._counted, None)
            self._counted = None
        super().connection_lost(exc)

    # the request's head ----------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._discarded >= 0:
            self._discarded += len(data)
            if self._discarded > LINGER_BYTES:
                self.transport.close()
            return
        if self._head < 0:  # receiving a body, or a held request
            super().data_received(data)
            return
        self._head += len(data)
        super().data_received(data)  # completing the head sets _head to -1: a body may follow in data
        if self._head > self.limits.max_header_bytes + self.limits.max_request_line:
            self._refuse(431, "The request's headers are too large.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._line = self._headers = self._header_bytes = 0
        if self._head < 0:  # the next request on a kept-alive connection
            self._head = 0
        if self._deadline is None:
            self._arm(self.limits.header_timeout)

    def on_url(self, url: bytes) -> None:
        if self._discarded >= 0:
            return
        self._line += len(url)
        if self._line > self.limits.max_request_line:
            self._refuse(414, "The request line is too long.")
            return
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._discarded >= 0:
            return
        self._headers += 1
        self._header_bytes += len(name) + len(value) + 4
        if self._headers > self.limits.max_headers:
            self._refuse(431, "The request has too many headers.")
            return
        if self._header_bytes > self.limits.max_header_bytes:  # a head that arrived in one piece
            self._refuse(431, "The request's headers are too large.")
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self.transport.is_closing() or self._discarded >= 0:
            return
        self._head = -1
        self._arm(self.limits.body_timeout)  # cancelled at once by on_message_complete when bodiless
        super().on_headers_complete()

    # the body ------------------------------------------------------------------------------------

    def on_body(self, body: bytes) -> None:
        if self._discarded >= 0:
            return
        self._arm(self.limits.body_timeout)
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._discarded >= 0:  # refused: the rest of what was fed in the same piece is dropped
            return
        self._disarm()
        super().on_message_complete()

    # timers ----------------------------------------------------------------------------------------

    def _arm(self, seconds: float) -> None:
        self._disarm()
        if seconds > 0:
            self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.cycle is not None and not self.cycle.response_complete and self._head < 0:
            # headers came in time, the body did not: the request's task is waiting for it
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self._refuse(408, "The request was not received in time.")

    def _refuse(self, status: int, message: str) -> None:
        """Answers, then reads and drops what the client is still sending for a moment before
        closing: closing with unread input would reset the connection and lose the answer."""
        self._disarm()
        if self.transport.is_closing() or self._discarded >= 0:
            return
        self._discarded = 0
        self.transport.write(_refusal(status, message))
        flush = getattr(self.transport, "flush", None)  # the joined-writes transport (server.protocol)
        if flush is not None:
            flush()
        if self.transport.can_write_eof():  # TCP: end our side now; TLS cannot half-close
            self.transport.write_eof()
        self._deadline = self.loop.call_later(LINGER_SECONDS, self.transport.close)


def protocol_class(limits: HttpLimits) -> type[LimitedProtocol]:
    """A protocol class for one server: its limits and its own per-address connection counts."""
    return type("OpenUcwaProtocol", (LimitedProtocol,), {"limits": limits, "per_client": {}})
