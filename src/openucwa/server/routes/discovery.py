"""root, user and the OAuth token service (SPEC §5.1, §5.2, §5.4)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...actions import users
from ...core.links import ROOT_PATH, TOKEN_PATH, USER_PATH
from ...core.resources import discovery as res
from ..base import discovery
from ..http import form_input, json_response
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
        return json_response(res.root(d, _query(request)), request=request)

    async def user(request: Request) -> Response:
        d = discovery(request, rt.settings)
        return json_response(res.user(d, d.user(_query(request))), request=request)

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
        scope = (form.get("scope") or [None])[0]
        if scope not in (None, "", "all"):
            return _oauth_error("invalid_scope")
        username = (form.get("username") or [""])[0]
        password = (form.get("password") or [""])[0]
        if not username or not password:
            return _oauth_error("invalid_request")
        issued = await users.authenticate(rt.services, username, password)
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


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(code: str) -> Response:
    return Response(
        orjson.dumps({"error": code}), status_code=400, headers=_NO_STORE, media_type="application/json"
    )
