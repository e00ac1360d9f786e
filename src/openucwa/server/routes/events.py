"""The event channel resource (SPEC §8.1): parse, hold, answer the exact bytes of the batch.

A server holds thousands of P-GETs for up to half an hour each, and every coroutine frame a held
request keeps alive is paid for each of them (server.longpoll; bench/README.md "Idle pending
P-GETs"). So a P-GET does not go down the middleware stack: ``EventChannelFirst``, just inside
``CaseFoldPaths``, takes every event-channel GET that is not cross-origin and does in one coroutine
what the stack would do with one each: ``Observe`` (request id, metrics, access log), ``Guard``
(the same check, the same refusals) and this endpoint, without Starlette's ExceptionMiddleware and
router. The endpoint answers its own UCWA errors with the application's one renderer; anything
else still reaches ServerErrorMiddleware. A cross-origin P-GET (``Origin``: a browser calling the
API directly) takes the whole stack, CORS included, to the same endpoint through the router.
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
from ..middleware import Guard, current_token, current_user, unauthorized
from ..observability import Observe
from ..runtime import Runtime
from . import route


class _Events:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Reached through the router (cross-origin P-GETs); EventChannelFirst._serve does the same.
        response: Response
        try:
            params, user, token = self.parse(Request(scope))
            app_id = scope["path_params"]["app_id"]
            body = await hold(self.rt.services, receive, app_id, user, params, self.rt.held, token)
        except UcwaError as exc:  # nothing was sent yet: the answer is this error
            response = error_response(exc, Request(scope))
        else:
            response = self.answer(scope, body)
        await response(scope, receive, send)

    def answer(self, scope: Scope, body: bytes | object | None) -> Response:
        if body is None:
            return Response(status_code=204)  # nobody is listening any more
        if body is REVOKED:  # the token died while the request was held
            return unauthorized(Request(scope), self.rt.settings)
        assert isinstance(body, bytes)
        return event_page_response(body, Request(scope))

    @staticmethod
    def parse(request: Request) -> tuple[commands.PGet, str, tuple[str, int | None] | None]:
        # Not inlined: the Request must not stay alive in the frame that holds the P-GET.
        return commands.pget(query(request)), current_user(request), current_token(request)


def routes(rt: Runtime) -> list[Route]:
    return [route(APPLICATIONS + "/{app_id}/events", _Events(rt), ["GET"])]


def _cross_origin(scope: Scope) -> bool:
    return any(name == b"origin" for name, _ in scope["headers"])


class EventChannelFirst:
    """Just inside ``CaseFoldPaths``: a GET of an event channel without ``Origin`` is served here,
    matched by the same route as the router would (same path parameters, same metrics label).
    Every other request goes on down the stack (``app``: Observe, Cors, Guard, Starlette's layers).

    Not a coroutine: it hands back ``_serve``'s or the inner app's awaitable, so no frame of its own
    stays alive. ``observe`` and ``guard`` are instances of the same middleware classes, used for
    their per-request steps only.
    """

    def __init__(self, app: ASGIApp, route: Route, runtime: Runtime) -> None:
        self.app = app
        self.route = route
        endpoint = route.app
        assert isinstance(endpoint, _Events)
        self.endpoint = endpoint
        self.observe = Observe(app, runtime.metrics)
        self.guard = Guard(app, runtime)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].endswith("/events"):
            match, child = self.route.matches(scope)
            if match is Match.FULL and not _cross_origin(scope):
                scope.update(child)  # endpoint and path parameters; "route" once admitted
                return self._serve(scope, receive, send)
        return self.app(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Observe → Guard → the endpoint, as the stack runs them, in the one frame a held P-GET
        keeps (with ``hold``'s)."""
        reply = self.observe.begin(scope, send)
        try:
            response = await self.guard.refusal(scope)
            if response is None:
                scope["route"] = self.route  # what the router records, for the metrics' label
                endpoint = self.endpoint
                try:
                    params, user, token = endpoint.parse(Request(scope))
                    app_id = scope["path_params"]["app_id"]
                    rt = endpoint.rt
                    body = await hold(rt.services, receive, app_id, user, params, rt.held, token)
                except UcwaError as exc:  # nothing was sent yet: the answer is this error
                    response = error_response(exc, Request(scope))
                else:
                    response = endpoint.answer(scope, body)
            await response(scope, receive, reply)
        finally:
            # An exception escaping here becomes a 500 outside (ServerErrorMiddleware), as in Observe.
            self.observe.end(scope, reply)
