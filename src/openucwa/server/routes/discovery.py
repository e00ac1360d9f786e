"""root, user and the OAuth token service (SPEC §5.1, §5.2, §5.4)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...actions import signin
from ...core.links import ROOT_PATH, TOKEN_PATH, USER_PATH
from ...core.resources import discovery as res
from ...directory.errors import DirectoryUnavailable
from ..base import discovery
from ..http import SECURITY_HEADERS, form_input, resource_response
from ..runtime import Runtime
from . import route, webapp

SUPPORTED_GRANTS = ("password",)
_REFUSED_GRANTS = ("urn:microsoft.rtc:windows", "urn:microsoft.rtc:passive", "urn:microsoft.rtc:anonmeeting")


def _query(request: Request) -> str:
    q = request.url.query
    return f"?{q}" if q else ""


def routes(rt: Runtime) -> list[Route]:
    async def root(request: Request) -> Response:
        if request.scope["path"] == "/" and webapp.wants_app(request):
            return webapp.index()  # a browser: the chat client (OpenUCWA Web)
        d = discovery(request, rt.settings)
        return resource_response(res.root(d, _query(request)), request=request)

    async def user(request: Request) -> Response:
        d = discovery(request, rt.settings)
        return resource_response(res.user(d, d.user(_query(request))), request=request)

    async def token(request: Request) -> Response:
        try:
            form = await form_input(request, rt.settings.max_body_bytes)
        except Exception:  # any unreadable body is an OAuth invalid_request, not a UCWA error
            return _oauth_error("invalid_request")
        if any(len(v) > 1 for v in form.values()):
            return _oauth_error("invalid_request")
        grant = (form.get("grant_type") or [""])[0]
        if grant in _REFUSED_GRANTS or (grant and grant not in SUPPORTED_GRANTS):
            return _oauth_error("unsupported_grant_type")
        if not grant:
            return _oauth_error("invalid_request")
        scope = (form.get("scope") or [""])[0]
        if scope not in (None, "", "all"):
            return _oauth_error("invalid_scope")
        username = (form.get("username") or [""])[0]
        password = (form.get("password") or [""])[0]
        if not username or not password:
            return _oauth_error("invalid_request")
        try:
            issued = await signin.password_grant(
                rt.services, rt.password_checks, username, password, _client_address(request, rt)
            )
        except signin.Throttled as exc:
            return _oauth_error(
                "temporarily_unavailable",
                429,
                {"Retry-After": str(int(exc.retry_after))},
                "Too many failed sign-ins; try again later.",
            )
        except DirectoryUnavailable:  # logged by the action; clients retry after a while
            return _directory_down()
        if issued is None:
            return _oauth_error("invalid_grant")
        body = {
            "access_token": issued.access_token,
            "expires_in": issued.expires_in,
            "ms_rtc_identityscope": "local",
            "token_type": "Bearer",
        }
        return Response(orjson.dumps(body), headers=_NO_STORE, media_type="application/json;charset=UTF-8")

    return [
        route("/", root, ["GET"]),
        route(ROOT_PATH, root, ["GET"]),
        route(USER_PATH, user, ["GET"]),
        route(TOKEN_PATH, token, ["POST"]),
    ]


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache", **SECURITY_HEADERS}


def _oauth_error(
    code: str, status: int = 400, headers: dict[str, str] | None = None, description: str | None = None
) -> Response:
    body = {"error": code} if description is None else {"error": code, "error_description": description}
    return Response(
        orjson.dumps(body),
        status_code=status,
        headers={**_NO_STORE, **(headers or {})},
        media_type="application/json",
    )


def _client_address(request: Request, rt: Runtime) -> str | None:
    """Behind a proxy, the first X-Forwarded-For entry; else the peer."""
    if rt.settings.behind_proxy:
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return request.client.host if request.client else None


DIRECTORY_RETRY_AFTER = 10  # seconds


def _directory_down() -> Response:
    """503 with Retry-After: OAuth's temporarily_unavailable plus the UCWA error fields."""
    body = {
        "error": "temporarily_unavailable",
        "code": "ServiceUnavailable",
        "subcode": "DirectoryUnavailable",
        "message": "The company directory cannot be reached; try again shortly.",
    }
    headers = {**_NO_STORE, "Retry-After": str(DIRECTORY_RETRY_AFTER)}
    return Response(orjson.dumps(body), status_code=503, headers=headers, media_type="application/json")
