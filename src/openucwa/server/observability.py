"""Request ids, the access log and the request metrics, in one pure ASGI middleware.

It sits inside ``CaseFoldPaths`` (the scope it passes on is the one the router fills in) and outside
``Guard``, so it sees every answer, refusals included, and reads the matched route's template from
``scope["route"]`` once the request is done: label values then come from the route table, never
from what a client put in the path. Answers given before or without routing (401 challenges,
refused hosts, unknown paths) are labelled ``unrouted``. The event channel's GETs turn off before
this middleware and are observed with its ``begin`` and ``end`` (``routes.events``).

The id is the client's ``X-Ms-Request-Id`` or ``X-Request-Id`` when it is a plain token, else one
made here (a random per-process prefix and a counter: no system call per request). It is echoed in
``X-Request-Id``, put in UCWA error bodies (``debugInfo.requestId``) and on every log line of the
request. The per-request state is a small slotted object and nothing else; a held P-GET does not
even keep this middleware's frame alive (``begin``/``end``).
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..metrics import Metrics
from . import logs

REQUEST_ID_HEADER = b"x-request-id"
_ACCEPTED = (b"x-ms-request-id", b"x-request-id")
_PLAIN = re.compile(rb"^[A-Za-z0-9._:{}@+=/-]{1,128}$")
_PROCESS = secrets.token_hex(6)
_SERIAL = itertools.count(1)
UNROUTED = "unrouted"


def _request_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name in _ACCEPTED and _PLAIN.match(value):
            return value.decode("ascii")
    return f"{_PROCESS}-{next(_SERIAL):x}"


class Reply:
    """The ``send`` the app gets: adds the request id to the head and remembers the status."""

    __slots__ = ("rid", "send", "started", "status")

    def __init__(self, send: Send, rid: str) -> None:
        self.send = send
        self.rid = rid
        self.status = 0
        self.started = time.perf_counter()

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            message["headers"] = [*message.get("headers", ()), (REQUEST_ID_HEADER, self.rid.encode())]
        await self.send(message)


class Observe:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.access = logs.access_logger()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reply = self.begin(scope, send)
        try:
            await self.app(scope, receive, reply)
        finally:
            # An exception escaping here becomes a 500 outside this middleware (ServerErrorMiddleware).
            self.end(scope, reply)

    @staticmethod
    def begin(scope: Scope, send: Send) -> Reply:
        """The request's id (also the context of its log lines) and the ``send`` to answer it with.

        With ``end``, apart from ``__call__`` for the event channel's fast path
        (``routes.events.EventChannelFirst``), which observes a P-GET exactly as this middleware
        would without keeping its frame alive while the P-GET is held.
        """
        rid = _request_id(scope["headers"])
        logs.request_id.set(rid)  # this request's task only: uvicorn runs each in a task of its own
        return Reply(send, rid)

    def end(self, scope: Scope, reply: Reply) -> None:
        self._done(scope, reply.status or 500, time.perf_counter() - reply.started, reply.rid)

    def _done(self, scope: Scope, status: int, seconds: float, rid: str) -> None:
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or UNROUTED
        self.metrics.request_done(template, scope["method"], status, seconds)
        if self.access is not None:
            path = scope.get("openucwa.original_path", scope["path"])
            client = scope.get("client")
            self.access.info(
                "request",
                request_id=rid,
                method=scope["method"],
                path=logs.scrub(path) if "=" in path else path,
                route=template,
                status=status,
                duration_ms=round(seconds * 1000, 3),
                client=client[0] if client else None,
            )
