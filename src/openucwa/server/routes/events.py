"""The event channel resource (SPEC §8.1): parse, hold, answer the exact bytes of the batch.

A plain ASGI endpoint rather than ``request → response`` like the other routes: Starlette's wrapper
for the latter keeps its own Request and a second exception-handling layer alive for as long as the
request runs, and a P-GET runs for up to half an hour, thousands at a time (server.longpoll). Errors
still reach the application's handlers through ExceptionMiddleware, as for any other route.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ...core import commands
from ...core.links import APPLICATIONS
from ..http import event_page_response, query
from ..longpoll import REVOKED, hold
from ..middleware import current_token, current_user, unauthorized
from ..runtime import Runtime
from . import route


class _Events:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        params, user, token = self._parse(Request(scope))
        app_id = scope["path_params"]["app_id"]
        body = await hold(self.rt.services, receive, app_id, user, params, self.rt.held, token)
        response: Response
        if body is None:
            response = Response(status_code=204)  # nobody is listening any more
        elif body is REVOKED:  # the token died while the request was held
            response = unauthorized(Request(scope), self.rt.settings)
        else:
            assert isinstance(body, bytes)
            response = event_page_response(body, Request(scope))
        await response(scope, receive, send)

    @staticmethod
    def _parse(request: Request) -> tuple[commands.PGet, str, tuple[str, int | None] | None]:
        # Not inlined: the Request must not stay alive in the frame that holds the P-GET.
        return commands.pget(query(request)), current_user(request), current_token(request)


def routes(rt: Runtime) -> list[Route]:
    return [route(APPLICATIONS + "/{app_id}/events", _Events(rt), ["GET"])]
