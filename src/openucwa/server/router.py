"""Starlette's router, finding the routes a path can match by its segments.

Starlette tries every route's regular expression in turn. With sixty routes, a request for one near
the end of the list (``GET /`` is the 52nd, ``me`` the 26th) spent a quarter of its server CPU there
(bench/request_cost.py). No maintained router for Starlette indexes its routes, and the index is
small: a tree of path segments, where ``{name}`` stands for any one non-empty segment, gives the few
routes whose path could match, in their order; each route's own ``matches`` still decides, so the
outcome (first full match, else the first that only lacks the method: 405, else Starlette's own
slash redirect and 404) is Starlette's. ``tests/server/test_router.py`` holds it to Starlette's own
router over real requests, and so guards the one private helper it shares (``get_route_path``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette._utils import get_route_path
from starlette.convertors import StringConvertor
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send


class _Node:
    __slots__ = ("literal", "param", "routes")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.param: _Node | None = None  # any one non-empty segment
        self.routes: list[tuple[int, BaseRoute]] = []


def _segments(route: BaseRoute) -> list[str | None] | None:
    """The route's path as literal segments and ``None`` for a parameter; ``None`` when the index
    cannot place it (a converter other than ``str``, a parameter inside a segment): such a route is
    a candidate for every path."""
    if not isinstance(route, Route) or not all(
        isinstance(c, StringConvertor) for c in route.param_convertors.values()
    ):
        return None
    out: list[str | None] = []
    for part in route.path.split("/"):
        if part.startswith("{") and part.endswith("}") and part.count("{") == 1:
            out.append(None)
        elif "{" in part or "}" in part:
            return None
        else:
            out.append(part)
    return out


class IndexedRouter(Router):
    def __init__(self, routes: Sequence[BaseRoute], **kwargs: Any) -> None:
        super().__init__(list(routes), **kwargs)
        self._root = _Node()
        self._anywhere: list[tuple[int, BaseRoute]] = []
        for i, route in enumerate(self.routes):
            segments = _segments(route)
            if segments is None:
                self._anywhere.append((i, route))
                continue
            node = self._root
            for part in segments:
                if part is None:
                    node.param = node.param or _Node()
                    node = node.param
                else:
                    node = node.literal.setdefault(part, _Node())
            node.routes.append((i, route))

    def candidates(self, path: str) -> list[BaseRoute]:
        """Every route whose path could match ``path``, in the routes' order."""
        found = list(self._anywhere)
        parts = path.split("/")
        last = len(parts)
        stack = [(self._root, 0)]
        while stack:
            node, i = stack.pop()
            if i == last:
                found.extend(node.routes)
                continue
            part = parts[i]
            child = node.literal.get(part)
            if child is not None:
                stack.append((child, i + 1))
            if part and node.param is not None:
                stack.append((node.param, i + 1))
        if len(found) > 1:
            found.sort(key=lambda entry: entry[0])
        return [route for _, route in found]

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().app(scope, receive, send)
            return
        partial: tuple[BaseRoute, Scope] | None = None
        for route in self.candidates(get_route_path(scope)):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                partial = (route, child_scope)
                break
            if match is Match.PARTIAL and partial is None:
                partial = (route, child_scope)
        if partial is None:  # Starlette's own: its slash redirect, else 404
            await super().app(scope, receive, send)
            return
        route, child_scope = partial
        scope.setdefault("router", self)
        scope["route"] = route
        scope.update(child_scope)
        await route.handle(scope, receive, send)
