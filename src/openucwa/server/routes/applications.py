"""applications, application, policies, me, makeMeAvailable, reportMyActivity, people, communication."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...actions import applications as actions
from ...actions import presence
from ...config import Settings
from ...core import commands, errors, photo_credential
from ...core.errors import UcwaError
from ...core.links import APPLICATIONS, AppLinks
from ...core.models import Application
from ...core.resources import application as res
from ..base import base_url
from ..http import empty_input, no_content, query, resource_input, resource_response
from ..middleware import current_user
from ..runtime import Runtime
from . import Endpoint, resource, route

A = APPLICATIONS + "/{app_id}"


PHOTO_CREDENTIAL_LIFETIME = 3600  # seconds; creating or getting the application renews it


def photo_cookie(request: Request, app: Application, settings: Settings, now: float) -> str:
    """Lets ``<img>`` fetch this application's photos without an Authorization header (SPEC §5.6):
    a photo-scoped credential, never the bearer token (core.photo_credential)."""
    expires = int(now) + PHOTO_CREDENTIAL_LIFETIME
    value = photo_credential.issue(app.id, app.user_uri, app.comm_key, expires)
    secure = "; Secure" if base_url(request, settings).startswith("https:") else ""
    path = AppLinks(app.id).photos_path()
    attributes = f"Path={path}; Max-Age={PHOTO_CREDENTIAL_LIFETIME}{secure}; HttpOnly; SameSite=Strict"
    return f"cwt_ucwa={value}; {attributes}"


def _check_version(request: Request, maximum: float) -> None:
    raw = request.headers.get("x-ms-requiresminresourceversion")
    if raw is None:
        return
    try:
        wanted = float(raw)
    except ValueError:
        raise UcwaError(errors.API_VERSION_NOT_SUPPORTED) from None
    if wanted > maximum:
        raise UcwaError(errors.API_VERSION_NOT_SUPPORTED)


def routes(rt: Runtime) -> list[Route]:
    async def create(request: Request) -> Response:
        _check_version(request, 2)
        data = commands.merged(await resource_input(request, rt.settings.max_body_bytes), query(request))
        cmd = commands.create_application(data)
        commands.user_agent_allowed(cmd, rt.settings.user_agent_denylist)
        app, user, is_new = await actions.create(rt.services, current_user(request), cmd)
        headers = {"Set-Cookie": photo_cookie(request, app, rt.settings, rt.services.clock())}
        if is_new:
            headers["Location"] = AppLinks(app.id).application()
        return resource_response(
            res.application(app, user), 201 if is_new else 200, request=request, headers=headers, etag=True
        )

    async def get_app(request: Request) -> Response:
        _check_version(request, 1)
        app, user = await actions.get_with_owner(
            rt.services, request.path_params["app_id"], current_user(request)
        )
        return resource_response(
            res.application(app, user),
            request=request,
            headers={"Set-Cookie": photo_cookie(request, app, rt.settings, rt.services.clock())},
            etag=True,
        )

    async def delete_app(request: Request) -> Response:
        await actions.delete(rt.services, request.path_params["app_id"], current_user(request))
        return no_content()

    async def policies(request: Request) -> Response:
        app = await actions.get(rt.services, request.path_params["app_id"], current_user(request))
        return resource_response(
            res.policies(app, html_messaging=rt.settings.html_messaging), request=request
        )

    async def me(request: Request) -> Response:
        app, user = await actions.get_with_owner(
            rt.services, request.path_params["app_id"], current_user(request)
        )
        return resource_response(res.me(app, user), request=request, etag=True)

    async def make_me_available(request: Request) -> Response:
        data = commands.merged(await resource_input(request, rt.settings.max_body_bytes), query(request))
        cmd = commands.make_me_available(data)
        await actions.make_me_available(
            rt.services, request.path_params["app_id"], current_user(request), cmd
        )
        return no_content()

    async def report_my_activity(request: Request) -> Response:
        await empty_input(request, rt.settings.max_body_bytes)
        await actions.report_my_activity(rt.services, request.path_params["app_id"], current_user(request))
        return no_content()

    def published(what: str) -> tuple[Endpoint, Endpoint]:
        async def get(request: Request) -> Response:
            body = await presence.read(
                rt.services, request.path_params["app_id"], current_user(request), what
            )
            return resource_response(body, request=request, etag=True)

        async def post(request: Request) -> Response:
            data = commands.merged(await resource_input(request, rt.settings.max_body_bytes), query(request))
            cmd = commands.publish(what, data)
            await presence.write(rt.services, request.path_params["app_id"], current_user(request), cmd)
            return no_content()

        return get, post

    async def communication(request: Request) -> Response:
        app = await actions.get(rt.services, request.path_params["app_id"], current_user(request))
        return resource_response(res.communication(app), request=request, etag=True)

    published_routes: list[Route] = []
    for what in ("presence", "note", "location"):
        get, post = published(what)
        published_routes.append(resource(f"{A}/me/{what}", GET=get, POST=post))

    return [
        route(APPLICATIONS, create, ["POST"]),
        resource(A, GET=get_app, DELETE=delete_app),
        route(A + "/policies", policies, ["GET"]),
        route(A + "/me", me, ["GET"]),
        route(A + "/me/makeMeAvailable", make_me_available, ["POST"]),
        route(A + "/me/reportMyActivity", report_my_activity, ["POST"]),
        route(A + "/reportMyActivity", report_my_activity, ["POST"]),  # where some clients post it
        *published_routes,
        route(A + "/communication", communication, ["GET"]),
    ]
