"""people, contacts, search, contact lists, photos and presence subscriptions (SPEC §11.8, §12)."""

from __future__ import annotations

from email.utils import formatdate
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...actions import applications as apps
from ...actions import people, subscriptions
from ...actions.services import Services
from ...core import commands
from ...core.links import APPLICATIONS
from ...core.resources import people as res
from ..http import SECURITY_HEADERS, etag_matches, no_content, query, resource_input, resource_response
from ..middleware import current_user
from ..runtime import Runtime
from . import resource, route

A = APPLICATIONS + "/{app_id}"
P = A + "/people"
PHOTO_TTL = 24 * 3600  # Expires: clients may reuse a photo for a day (SPEC §11.8)


def routes(rt: Runtime) -> list[Route]:
    def svc() -> Services:
        """Services exist only once the lifespan started, after the routes were built."""
        return rt.services

    async def hub(request: Request) -> Response:
        app = await apps.get(svc(), request.path_params["app_id"], current_user(request))
        return resource_response(res.people(app.id), request=request)

    async def contact(request: Request) -> Response:
        p = request.path_params
        body = await people.get_contact(svc(), p["app_id"], current_user(request), p["user"])
        return resource_response(body, request=request, etag=True)

    def contact_part(part: str) -> Route:
        async def get(request: Request) -> Response:
            p = request.path_params
            body = await people.get_contact_part(svc(), p["app_id"], current_user(request), p["user"], part)
            return resource_response(body, request=request, etag=True)

        return route(f"{P}/{{user}}/{part}", get, ["GET"])

    async def search(request: Request) -> Response:
        app_id = request.path_params["app_id"]
        found = commands.search(query(request))
        q, limit = found.query, found.limit
        self_href = f"{res.PeopleLinks(app_id).search()}?{urlencode({'query': q, 'limit': limit})}"
        body = await people.search(svc(), app_id, current_user(request), q, limit, self_href)
        return resource_response(body, request=request)

    async def contacts(request: Request) -> Response:
        params = query(request)
        group_id = {k.lower(): v for k, v in params.items()}.get("groupid")
        body = await people.my_contacts(
            svc(),
            request.path_params["app_id"],
            current_user(request),
            expand=commands.expand(params),
            group_id=group_id,
        )
        return resource_response(body, request=request, etag=True)

    async def groups(request: Request) -> Response:
        expand = commands.expand(query(request))
        body = await people.my_groups(
            svc(), request.path_params["app_id"], current_user(request), expand=expand
        )
        return resource_response(body, request=request, etag=True)

    async def group(request: Request) -> Response:
        p = request.path_params
        body = await people.get_group(svc(), p["app_id"], current_user(request), p["gid"])
        return resource_response(body, request=request, etag=True)

    async def expand_group(request: Request) -> Response:
        p = request.path_params
        body = await people.expand_group(svc(), p["app_id"], current_user(request), p["gid"])
        return resource_response(body, request=request, etag=True)

    async def photo(request: Request) -> Response:
        """Served to ``<img>`` too, hence the cookie auth (middleware) and HTTP caching headers."""
        p = request.path_params
        data, tag = await people.get_photo(svc(), p["app_id"], current_user(request), p["user"])
        headers = {
            "ETag": f'"{tag}"',
            "Cache-Control": "private",
            **SECURITY_HEADERS,
            "Expires": formatdate(svc().clock() + PHOTO_TTL, usegmt=True),
        }
        if etag_matches(request.headers.get("if-none-match"), tag):
            return Response(status_code=304, headers=headers)
        return Response(data, headers=headers, media_type="image/jpeg")

    def q(request: Request, name: str) -> str | None:
        return {k.lower(): v for k, v in query(request).items()}.get(name.lower())

    async def subs_get(request: Request) -> Response:
        body = await subscriptions.list_all(svc(), request.path_params["app_id"], current_user(request))
        return resource_response(body, request=request)

    async def subs_post(request: Request) -> Response:
        data = commands.merged(await resource_input(request, rt.settings.max_body_bytes), query(request))
        cmd = commands.create_subscription(data, q(request, "groupId"))
        href, body = await subscriptions.create(
            svc(), request.path_params["app_id"], current_user(request), cmd
        )
        return resource_response(body, 201, request=request, headers={"Location": href})

    async def sub_get(request: Request) -> Response:
        p = request.path_params
        body = await subscriptions.get(svc(), p["app_id"], current_user(request), p["sid"])
        return resource_response(body, request=request)

    async def sub_extend(request: Request) -> Response:
        p = request.path_params
        data = commands.merged(await resource_input(request, rt.settings.max_body_bytes), query(request))
        minutes = commands.duration(data)
        body = await subscriptions.extend(svc(), p["app_id"], current_user(request), p["sid"], minutes)
        return resource_response(body, request=request)

    async def sub_delete(request: Request) -> Response:
        p = request.path_params
        await subscriptions.delete(svc(), p["app_id"], current_user(request), p["sid"])
        return no_content()

    async def members_get(request: Request) -> Response:
        sid = q(request, "presenceSubscriptionId")
        body = await subscriptions.memberships(
            svc(), request.path_params["app_id"], current_user(request), sid
        )
        return resource_response(body, request=request)

    async def members_post(request: Request) -> Response:
        data = await resource_input(request, rt.settings.max_body_bytes)
        cmd = commands.add_memberships(data, q(request, "presenceSubscriptionId"))
        body = await subscriptions.add_memberships(
            svc(), request.path_params["app_id"], current_user(request), cmd
        )
        return resource_response(body, 201, request=request)

    async def member_get(request: Request) -> Response:
        p = request.path_params
        body = await subscriptions.get_membership(svc(), p["app_id"], current_user(request), p["key"])
        return resource_response(body, request=request)

    async def member_delete(request: Request) -> Response:
        p = request.path_params
        await subscriptions.delete_membership(svc(), p["app_id"], current_user(request), p["key"])
        return no_content()

    async def subscribed(request: Request) -> Response:
        body = await subscriptions.subscribed_contacts(
            svc(), request.path_params["app_id"], current_user(request)
        )
        return resource_response(body, request=request)

    return [
        route(A + "/photos/{user}", photo, ["GET"]),
        resource(P + "/presenceSubscriptions", GET=subs_get, POST=subs_post),
        resource(P + "/presenceSubscriptions/{sid}", GET=sub_get, POST=sub_extend, DELETE=sub_delete),
        resource(P + "/presenceSubscriptionMemberships", GET=members_get, POST=members_post),
        resource(P + "/presenceSubscriptionMemberships/{key}", GET=member_get, DELETE=member_delete),
        route(P + "/subscribedContacts", subscribed, ["GET"]),
        route(P, hub, ["GET"]),
        route(P + "/contacts", contacts, ["GET"]),
        route(P + "/groups", groups, ["GET"]),
        route(P + "/groups/{gid}", group, ["GET"]),
        route(P + "/groups/{gid}/expand", expand_group, ["GET"]),
        route(P + "/search", search, ["GET"]),
        *(contact_part(part) for part in ("presence", "note", "location", "supportedmedia")),
        route(P + "/{user}", contact, ["GET"]),
    ]
