"""root, user and the OAuth token service (SPEC §5.1, §5.2, §5.4)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ...actions import users
from ...core.links import ROOT_PATH, TOKEN_PATH, USER_PATH
from ...core.resources import discovery as res
from ...directory.errors import DirectoryUnavailable
from ..base import discovery
from ..http import form_input, json_response
from ..runtime import Runtime
from . import route

SUPPORTED_GRANTS = ("password",)
_REFUSED_GRANTS = ("urn:microsoft.rtc:windows", "urn:microsoft.rtc:passive", "urn:microsoft.rtc:anonmeeting")
_LANDING = """<!doctype html><meta charset="utf-8"><title>OpenUCWA</title>
<h1>OpenUCWA</h1><p>This is a UCWA 2.0 server. Clients start at
<code>{root}</code> (<code>Accept: application/json</code>).</p>"""


def _query(request: Request) -> str:
    q = request.url.query
    return f"?{q}" if q else ""


def routes(rt: Runtime) -> list[Route]:
    async def root(request: Request) -> Response:
        d = discovery(request, rt.settings)
        accept = request.headers.get("accept", "")
        if request.scope["path"] == "/" and "text/html" in accept and "json" not in accept:
            return HTMLResponse(_LANDING.format(root=d.root()))
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
        try:
            issued = await users.authenticate(rt.services, username, password)
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


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(code: str) -> Response:
    return Response(
        orjson.dumps({"error": code}), status_code=400, headers=_NO_STORE, media_type="application/json"
    )


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
