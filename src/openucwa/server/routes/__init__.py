"""One module per resource family; each exposes ``routes(runtime)``."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


def route(path: str, endpoint: Endpoint | ASGIApp, methods: list[str]) -> Route:
    """A route on the case-folded path; HEAD is not implied (SPEC §3.1: HEAD → 405).

    A ``request → response`` function is served as ``_Methods`` serves one, not by Starlette's
    wrapper (see there)."""
    if inspect.isfunction(endpoint) or inspect.ismethod(endpoint):
        endpoint = _Methods(dict.fromkeys(methods, cast(Endpoint, endpoint)))
    r = Route(path.lower(), endpoint, methods=methods)
    if r.methods is not None:
        r.methods.discard("HEAD")
    return r


class _Methods:
    """The handlers of one path as a plain ASGI app.

    Not Starlette's wrapper of a ``request → response`` function, which adds a second Request and
    a second exception layer to every request (a tenth of a plain GET's server CPU): the
    application's ExceptionMiddleware already maps every error with the same handlers.
    """

    __slots__ = ("_handlers",)

    def __init__(self, handlers: dict[str, Endpoint]) -> None:
        self._handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        response = await self._handlers[request.method](request)
        await response(scope, receive, send)


def resource(path: str, **handlers: Endpoint) -> Route:
    """One route for several methods, so a 405 lists every allowed one in ``Allow``."""
    return route(path, _Methods(handlers), list(handlers))
