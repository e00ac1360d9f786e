"""CORS for browser pages that call the API directly (the Skype Web SDK's ``cors: true``,
single-page apps on another origin), beside the XFrame relay (SPEC §6).

The same allow-list decides as for ``X-Ms-Origin`` (``ALLOWED_ORIGINS``; by default loopback and the
server's own origin). An allowed origin is echoed, never ``*``, since requests carry credentials;
a preflight from an allowed origin is answered here, before authentication (a preflight carries no
token); a disallowed origin gets no CORS header at all, and its preflight a 403.
"""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core import errors
from ..core.errors import UcwaError
from .base import discovery
from .errors import error_response
from .middleware import origin_allowed
from .runtime import Runtime

ALLOWED_METHODS = b"GET, POST, PUT, DELETE, OPTIONS"
# What UCWA clients send: the token, bodies, conditional requests, and Microsoft's own headers.
ALLOWED_HEADERS = frozenset(
    {"authorization", "content-type", "accept", "if-match", "if-none-match", "x-requested-with"}
)
EXPOSED = b"Location, ETag, WWW-Authenticate, X-Ms-diagnostics, X-MS-UcwaVersion, Retry-After"


def _requested_headers(raw: str) -> list[str] | None:
    """The preflight's headers if every one is allowed (X-Ms-* included), else None."""
    names = [h.strip().lower() for h in raw.split(",") if h.strip()]
    ok = all(n in ALLOWED_HEADERS or n.startswith("x-ms-") for n in names)
    return names if ok else None


class Cors:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine for requests without Origin (every non-browser client): it hands back the
        # inner app's awaitable, so no frame of its own stays alive while a P-GET is held.
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        origin = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"origin"), None)
        if origin is None:
            return self.app(scope, receive, send)
        return self._cross_origin(scope, receive, send, origin)

    async def _cross_origin(self, scope: Scope, receive: Receive, send: Send, origin: str) -> None:
        request = Request(scope)
        settings = self.runtime.settings
        try:
            allowed = origin_allowed(origin, settings.allowed_origins, discovery(request, settings).base)
        except UcwaError:  # a Host the server does not answer for: Guard says so next
            allowed = False
        wanted = request.headers.get("access-control-request-method")
        if scope["method"] == "OPTIONS" and wanted is not None:
            names = _requested_headers(request.headers.get("access-control-request-headers", ""))
            if not allowed or names is None:
                refusal = UcwaError(errors.ORIGIN_FORBIDDEN)
                await error_response(refusal, request)(scope, receive, send)
                return
            headers = [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-credentials", b"true"),
                (b"access-control-allow-methods", ALLOWED_METHODS),
                (b"access-control-allow-headers", ", ".join(names).encode("latin-1")),
                (b"access-control-max-age", b"600"),
                (b"vary", b"Origin"),
                (b"content-length", b"0"),
            ]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if not allowed:
            await self.app(scope, receive, send)
            return
        echoed = origin.encode("latin-1")

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", echoed),
                    (b"access-control-allow-credentials", b"true"),
                    (b"access-control-expose-headers", EXPOSED),
                    (b"vary", b"Origin"),
                ]
            await send(message)

        await self.app(scope, receive, with_cors)
