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
from ..longpoll import hold
from ..middleware import current_user
from ..runtime import Runtime
from . import route


class _Events:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        params, user = self._parse(Request(scope))
        body = await hold(self.rt.services, receive, scope["path_params"]["app_id"], user, params)
        response = (
            Response(status_code=204)  # nobody is listening any more
            if body is None
            else event_page_response(body, Request(scope))
        )
        await response(scope, receive, send)

    @staticmethod
    def _parse(request: Request) -> tuple[commands.PGet, str]:
        # Not inlined: the Request must not stay alive in the frame that holds the P-GET.
        return commands.pget(query(request)), current_user(request)


def routes(rt: Runtime) -> list[Route]:
    return [route(APPLICATIONS + "/{app_id}/events", _Events(rt), ["GET"])]
