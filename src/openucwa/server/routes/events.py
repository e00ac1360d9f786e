"""The event channel resource (SPEC §8.1): parse, hold, answer the exact bytes of the batch.

A plain ASGI endpoint rather than ``request → response`` like the other routes, and reached by
``EventChannelFirst`` without Starlette's ExceptionMiddleware and router: each of those keeps frames
alive for as long as the request runs, and a P-GET runs for up to half an hour, thousands at a time
(server.longpoll; bench/README.md "Idle pending P-GETs"). So the endpoint answers its own UCWA
errors, with the application's one renderer; anything else still reaches ServerErrorMiddleware.
"""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ...core import commands
from ...core.errors import UcwaError
from ...core.links import APPLICATIONS
from ..errors import error_response
from ..http import event_page_response, query
from ..longpoll import REVOKED, hold
from ..middleware import current_token, current_user, unauthorized
from ..runtime import Runtime
from . import route


class _Events:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response: Response
        try:
            params, user, token = self._parse(Request(scope))
            app_id = scope["path_params"]["app_id"]
            body = await hold(self.rt.services, receive, app_id, user, params, self.rt.held, token)
        except UcwaError as exc:  # nothing was sent yet: the answer is this error
            response = error_response(exc, Request(scope))
        else:
            response = self._answer(scope, body)
        await response(scope, receive, send)

    def _answer(self, scope: Scope, body: bytes | object | None) -> Response:
        if body is None:
            return Response(status_code=204)  # nobody is listening any more
        if body is REVOKED:  # the token died while the request was held
            return unauthorized(Request(scope), self.rt.settings)
        assert isinstance(body, bytes)
        return event_page_response(body, Request(scope))

    @staticmethod
    def _parse(request: Request) -> tuple[commands.PGet, str, tuple[str, int | None] | None]:
        # Not inlined: the Request must not stay alive in the frame that holds the P-GET.
        return commands.pget(query(request)), current_user(request), current_token(request)


def routes(rt: Runtime) -> list[Route]:
    return [route(APPLICATIONS + "/{app_id}/events", _Events(rt), ["GET"])]


class EventChannelFirst:
    """The innermost middleware: a GET of an event channel goes straight to its endpoint, as the
    router would send it (same route, same path parameters), without the router's and
    ExceptionMiddleware's frames. Every other request goes on to them.

    Not a coroutine: it hands back the endpoint's or the inner app's awaitable, so no frame of its
    own stays alive either.
    """

    def __init__(self, app: ASGIApp, route: Route) -> None:
        self.app = app
        self.route = route

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].endswith("/events"):
            match, child = self.route.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                scope["route"] = self.route  # what the router records, for the metrics' label
                return self.route.app(scope, receive, send)
        return self.app(scope, receive, send)
