"""``POST A/batch`` (SPEC §10): each part runs through this same ASGI application, in process.

A part is not re-implemented here: it becomes an ASGI request of its own (method, path, query,
headers, body) and goes through the whole middleware stack and router, so every route, every
validation, every error and every authorisation rule applies to it exactly as to a single request.
What the part inherits from the batch, and never from its own headers, is who is asking: the
batch's ``Authorization``, ``Host``, ``X-Forwarded-*`` and ``X-Ms-Origin`` (SPEC §10: the documented
parts carry no credentials, so a part's own ``Authorization`` or ``Cookie`` is dropped and a part
can never act as anyone but the caller).

Refused per part with 400 BadRequest, without running it: another batch, the event channel and
photos (BatchingRequests.md), and anything outside the UCWA URL space (discovery, the token
endpoint, the web client and the operations routes are not UCWA requests). A part marked as batched
reaching this route again is refused too, so no path spelling can make a batch recurse.

Parts run one after another in request order; the 100-request allowance per user (core.batching
.Outstanding) is reserved for the whole batch before the first part runs and given back part by
part.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope

from ...actions import applications
from ...core import batching, errors
from ...core.batching import PartRequest, PartResponse
from ...core.errors import UcwaError
from ...core.links import APPLICATIONS, UCWA_PREFIX
from .. import logs
from ..errors import error_response
from ..http import UCWA_HEADERS, read_body
from ..middleware import current_user
from ..runtime import Runtime
from . import route

BATCHED = "openucwa.batched"  # scope key of a part: the batch route refuses to run inside one
_SLASHES = re.compile(r"/{2,}")
_NOT_BATCHABLE = re.compile(re.escape(APPLICATIONS.lower()) + r"/[^/]+/(?:batch|events|photos)(?:/|$)")
# Who is asking comes from the batch; a part's own say on it is dropped. Framing is the part's own.
_FROM_BATCH = (b"host", b"authorization", b"x-ms-origin", b"x-forwarded-host", b"x-forwarded-proto")
_DROPPED = frozenset(
    {*_FROM_BATCH, b"cookie", b"origin", b"content-length", b"connection", b"expect", b"upgrade", b"te"}
    | {b"x-request-id", b"x-ms-request-id"}  # each part gets the batch's id with its number
)
# Not repeated inside a part: credentials a script must not read (the HttpOnly photo cookie),
# CORS (it applies to the batch), and framing the batch itself has.
_HIDDEN = frozenset({"set-cookie", "connection", "transfer-encoding", "keep-alive", "date", "server", "vary"})


def _refusal(part: PartRequest) -> str | None:
    """Why this part may not run in a batch, judged on the path the router would see."""
    path = _SLASHES.sub("/", unquote(part.target.split("?", 1)[0])).lower()
    if not path.startswith(UCWA_PREFIX.lower() + "/"):
        return "Only UCWA requests (under /ucwa/) can be batched."
    if _NOT_BATCHABLE.match(path):
        return "A batch cannot hold another batch, an event channel request or a photo request."
    return None


def _refused(scope: Scope, kind: errors.ErrorKind, message: str | None) -> ASGIApp:
    """A refusal rendered as the application renders errors, for the part's own Accept."""
    return error_response(UcwaError(kind, message), Request(scope))


def _scope(outer: Scope, part: PartRequest, request_id: str) -> Scope:
    path, _, query = part.target.partition("?")
    inherited = [(k, v) for k, v in outer["headers"] if k in _FROM_BATCH]
    own = [
        (k, v.encode("latin-1"))
        for k, v in ((name.lower().encode("latin-1"), value) for name, value in part.headers)
        if k not in _DROPPED
    ]
    framing = [(b"content-length", str(len(part.body)).encode()), (b"x-ms-request-id", request_id.encode())]
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": outer.get("asgi", {"version": "3.0"}),
        "http_version": "1.1",
        "method": part.method,
        "scheme": outer.get("scheme", "http"),
        "path": unquote(path),  # as a server decodes the request target
        "raw_path": path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": outer.get("root_path", ""),
        "headers": [*inherited, *own, *framing],
        "client": outer.get("client"),
        "server": outer.get("server"),
        BATCHED: True,
    }
    if "state" in outer:
        scope["state"] = outer["state"]
    return scope


async def _run(app: ASGIApp, scope: Scope, body: bytes, receive: Receive) -> PartResponse:
    """One part through the application; its answer collected instead of sent."""
    started: dict[str, Any] = {}
    chunks: list[bytes] = []
    delivered = False

    async def part_receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # the batch's connection: a disconnect there is the part's too

    async def part_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await app(scope, part_receive, part_send)
    except Exception:  # already logged and answered 500 by the application's last-resort handler
        if not started:
            return await _run(_refused(scope, errors.SERVICE_FAILURE, None), scope, b"", receive)
    headers = tuple(
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, v in started.get("headers", [])
        if k.decode("latin-1").lower() not in _HIDDEN and not k.lower().startswith(b"access-control-")
    )
    return PartResponse(int(started.get("status", 500)), headers, b"".join(chunks))


def routes(rt: Runtime) -> list[Route]:
    async def batch(request: Request) -> Response:
        if request.scope.get(BATCHED):
            raise UcwaError(errors.BAD_REQUEST, "A batch cannot hold another batch.")
        user = current_user(request)
        await applications.get(rt.services, request.path_params["app_id"], user)
        boundary = batching.boundary_of(request.headers.get("content-type", ""))
        parts = batching.parse(await read_body(request, rt.settings.max_body_bytes), boundary)
        if not rt.batched.reserve(user, len(parts)):
            raise UcwaError(
                errors.TOO_MANY_REQUESTS, "Too many batched requests are outstanding; retry later."
            )
        app: ASGIApp = request.scope["app"]
        batch_id = logs.request_id.get() or "batch"
        answers: list[PartResponse] = []
        try:
            for n, part in enumerate(parts, 1):
                why = _refusal(part)
                part_id = f"{batch_id}.{n}"
                scope = _scope(request.scope, part, part_id)
                target = app
                if why:
                    logs.request_id.set(part_id)  # the id the refusal's debugInfo carries
                    target = _refused(scope, errors.BAD_REQUEST, why)
                answers.append(await _run(target, scope, part.body, request.receive))
                rt.batched.release(user)
                logs.request_id.set(batch_id)  # each part is logged under its own id, then back
        finally:
            rt.batched.release(user, len(parts) - len(answers))  # parts not run, if cut short
        content_type, body = batching.serialize(answers)
        return Response(body, headers=dict(UCWA_HEADERS), media_type=content_type)

    return [route(APPLICATIONS + "/{app_id}/batch", batch, ["POST"])]
