"""The event channel resource (SPEC §8.1): parse, hold, answer the exact bytes of the batch."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...core import commands
from ...core.links import APPLICATIONS
from ..http import query, raw_json_response
from ..longpoll import hold
from ..middleware import current_user
from ..runtime import Runtime
from . import route


def routes(rt: Runtime) -> list[Route]:
    async def events(request: Request) -> Response:
        params = commands.pget(query(request))
        body = await hold(rt.services, request, request.path_params["app_id"], current_user(request), params)
        if body is None:
            return Response(status_code=204)  # nobody is listening any more
        return raw_json_response(body, request)

    return [route(APPLICATIONS + "/{app_id}/events", events, ["GET"])]
