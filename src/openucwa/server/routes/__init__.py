"""One module per resource family; each exposes ``routes(runtime)``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

Endpoint = Callable[[Request], Awaitable[Response]]


def route(path: str, endpoint: Endpoint | ASGIApp, methods: list[str]) -> Route:
    """A route on the case-folded path; HEAD is not implied (SPEC §3.1: HEAD → 405)."""
    r = Route(path.lower(), endpoint, methods=methods)
    if r.methods is not None:
        r.methods.discard("HEAD")
    return r


def resource(path: str, **handlers: Endpoint) -> Route:
    """One route for several methods, so a 405 lists every allowed one in ``Allow``."""

    async def dispatch(request: Request) -> Response:
        return await handlers[request.method](request)

    return route(path, dispatch, list(handlers))
