"""Pure ASGI middleware: case-folded routing, origin checks and bearer authentication.

Authentication happens here rather than in each route so that every /ucwa path, known or not,
answers 401 with the challenge when the token is missing (SPEC §5.5) before routing says anything.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..actions import applications, users
from ..config import Settings
from ..core import errors
from ..core.errors import UcwaError
from ..core.links import TOKEN_PATH, UCWA_PREFIX, USER_PATH
from .base import SCHEMES, discovery, refused_host
from .errors import error_response
from .http import UCWA_HEADERS
from .runtime import Runtime

_LOOPBACK = re.compile(r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$", re.IGNORECASE)
USER_KEY = "openucwa.user"
TOKEN_KEY = "openucwa.token"  # (hash of the bearer token, revocation epoch it was verified under)
_SLASHES = re.compile(r"/{2,}")
_USER_PATH_LOWER = USER_PATH.lower()
_UCWA_LOWER = UCWA_PREFIX.lower() + "/"
_PHOTOS = re.compile(r"^" + re.escape(UCWA_PREFIX.lower()) + r"/applications/(?P<app>[^/]+)/photos/[^/]+$")


class CaseFoldPaths:
    """Fixed segments match case-insensitively (the seed posts to ``startmessaging``); ids are
    lower-case and user segments compare case-insensitively, so folding the whole path is safe.
    Repeated slashes count as one, as they did on the IIS that served Skype for Business."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine: it hands back the inner app's awaitable, so no frame of its own stays
        # alive for as long as the request runs (a held P-GET runs for minutes, server.longpoll).
        if scope["type"] == "http":
            path = scope["path"]
            folded = _SLASHES.sub("/", path) if "//" in path else path  # origin + "/" + href; IIS did too
            folded = folded.lower()
            if folded != path:  # the hrefs we hand out are folded already: no copy for those (P-GETs)
                scope = dict(scope)
                scope["openucwa.original_path"] = path
                scope["path"] = folded
        return self.app(scope, receive, send)


def origin_allowed(origin: str, allowed: tuple[str, ...], own: str) -> bool:
    origin = origin.strip().rstrip("/")
    if not allowed:
        return bool(_LOOPBACK.match(origin)) or origin.lower() == own.lower()
    return (
        "*" in allowed
        or origin.lower() in {a.rstrip("/").lower() for a in allowed}
        or origin.lower() == own.lower()
    )


class Guard:
    """X-Ms-Origin allow-list (SPEC §6.2) and bearer tokens for the user resource and /ucwa."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = await self.refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def refusal(self, scope: Scope) -> Response | None:
        """The refusal to send, or None with the user (if any) recorded in ``scope``.

        Apart from ``__call__`` so that its Request is gone before the route runs, and so that the
        event channel's fast path (``routes.events.EventChannelFirst``) checks a P-GET exactly as
        this middleware would without keeping its frame alive while the P-GET is held.
        """
        try:
            return await self._check(scope)
        except UcwaError as exc:  # e.g. the store busy with another process while checking a token
            return error_response(exc, Request(scope))

    async def _check(self, scope: Scope) -> Response | None:
        svc = self.runtime.services
        origin = authorization = None
        host = forwarded_host = None
        proto = "http"
        for name, value in scope["headers"]:  # one pass; names are lower-case bytes (ASGI)
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"x-ms-origin":
                origin = value.decode("latin-1")
            elif name == b"host":
                host = value.decode("latin-1")
            elif name == b"x-forwarded-host" and svc.settings.behind_proxy:
                forwarded_host = value.decode("latin-1").split(",")[0].strip()
            elif name == b"x-forwarded-proto" and svc.settings.behind_proxy:
                proto = value.decode("latin-1").split(",")[0].strip().lower()
        request = Request(scope)
        link_host = forwarded_host or host  # the one links would be made from (server.base)
        if proto not in SCHEMES or (link_host is not None and not self.runtime.hosts.allows(link_host)):
            return error_response(refused_host(), request)  # before any link is made from it
        if origin is not None:
            own = discovery(request, svc.settings).base
            if not origin_allowed(origin, svc.settings.allowed_origins, own):
                diag = (
                    f'28072;source="{svc.settings.server_fqdn}";'
                    'reason="Service does not allow a cross domain request from this origin."'
                )
                err = UcwaError(errors.ORIGIN_FORBIDDEN, headers={"X-Ms-diagnostics": diag})
                return error_response(err, request)
        path = scope["path"]
        if path == _USER_PATH_LOWER or path.startswith(_UCWA_LOWER):
            user = await self._authenticate(request, authorization or "")
            if user is None:
                return unauthorized(request, svc.settings)
            scope[USER_KEY] = user
        return None

    async def _authenticate(self, request: Request, header: str) -> str | None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token.startswith(users.TOKEN_PREFIX):
            # <img> cannot send Authorization: photos alone also accept the cwt_ucwa cookie that
            # creating/getting the application set (SPEC §5.6, §11.8), for that application only.
            cookie = request.cookies.get("cwt_ucwa")
            photos = _PHOTOS.match(request.scope["path"])
            if not header and cookie and request.method == "GET" and photos:
                return await applications.photo_owner(self.runtime.services, photos["app"], cookie)
            return None
        epoch = self.runtime.tokens.epoch  # read first: the verification saw this epoch or a later one
        digest = users.token_digest(token)
        user = await users.verify_token(self.runtime.services, self.runtime.tokens, digest)
        if user is not None:  # a held P-GET ends when its token is revoked (server.longpoll)
            request.scope[TOKEN_KEY] = (digest, epoch)
        return user


def unauthorized(request: Request, settings: Settings) -> Response:
    """What a request without a valid token gets: the challenge naming the token endpoint."""
    challenge = f'MsRtcOAuth href="{discovery(request, settings).token()}",grant_type="password"'
    return Response(status_code=401, headers={"WWW-Authenticate": challenge, **UCWA_HEADERS})


def current_user(request: Request) -> str:
    user: str = request.scope[USER_KEY]  # set by Guard before any route runs
    return user


def current_token(request: Request) -> tuple[str, int | None] | None:
    """(hash of the request's bearer token, the revocation epoch it was verified under), or None
    for a photo fetched with the cookie."""
    token: tuple[str, int | None] | None = request.scope.get(TOKEN_KEY)
    return token


__all__ = [
    "TOKEN_PATH",
    "CaseFoldPaths",
    "Guard",
    "current_token",
    "current_user",
    "origin_allowed",
    "unauthorized",
]
