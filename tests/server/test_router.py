"""The indexed router picks exactly the route Starlette's linear scan would pick, for any path."""

from __future__ import annotations

from pathlib import Path

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route

from openucwa.config import from_env
from openucwa.server.app import create_app
from openucwa.server.router import IndexedRouter


async def _ok(request: Request) -> Response:
    return PlainTextResponse(request.scope["route"].path + " " + repr(sorted(request.path_params.items())))


# Shapes the index must get right beside the server's own: a literal and a parameter at one level,
# a parameter inside a segment, other converters, a trailing slash, a mount, one path twice.
TRICKY: list[BaseRoute] = [
    Route("/a/{x}/c", _ok, methods=["POST"]),
    Route("/a/b/c", _ok, methods=["GET"]),
    Route("/a/{x}/{y}", _ok, methods=["GET"]),
    Route("/f/pre{x}", _ok),
    Route("/n/{k:int}", _ok),
    Route("/n/{k}", _ok),
    Route("/p/{rest:path}", _ok),
    Route("/s/", _ok),
    Route("/a/b/c", _ok, methods=["PUT"]),
    Mount("/m", routes=[Route("/{z}", _ok)]),
    Route("/", _ok),
]


def _linear(routes: list[BaseRoute], scope: dict[str, object]) -> BaseRoute | None:
    """What Starlette's router would pick: the first full match, else the first partial."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial


def _indexed(router: IndexedRouter, scope: dict[str, object]) -> BaseRoute | None:
    return _linear(router.candidates(str(scope["path"])), scope)


def _scope(path: str, method: str) -> dict[str, object]:
    return {"type": "http", "path": path, "method": method, "root_path": ""}


def _server_router(tmp_path: Path) -> IndexedRouter:
    router = create_app(from_env(data_dir=str(tmp_path))).router
    assert isinstance(router, IndexedRouter)
    return router


def test_every_server_route_is_found_for_its_own_paths_and_no_other(tmp_path: Path) -> None:
    router = _server_router(tmp_path)
    for route in router.routes:
        assert isinstance(route, Route)
        path = route.path.replace("{path:path}", "x/y.js")
        for value in ("x1", "sip:lenea@contoso.com", "search"):
            concrete = path
            while "{" in concrete:
                start = concrete.index("{")
                concrete = concrete[:start] + value + concrete[concrete.index("}") + 1 :]
            for method in ("GET", "POST", "PUT", "DELETE"):
                scope = _scope(concrete, method)
                assert _indexed(router, scope) is _linear(router.routes, scope), (method, concrete)


_segment = st.sampled_from(
    ["", "a", "b", "c", "f", "pre1", "n", "12", "p", "s", "m", "x", "ucwa", "oauth", "v1", "applications",
     "events", "me", "people", "search", "communication", "conversations", "messaging", "messages", "app"]
)  # fmt: skip
_paths = st.lists(_segment, min_size=1, max_size=9).map(lambda parts: "/" + "/".join(parts))


@settings(max_examples=400, deadline=None)
@given(path=_paths, method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
def test_any_path_finds_what_the_linear_scan_finds(path: str, method: str) -> None:
    router = IndexedRouter(TRICKY)
    scope = _scope(path, method)
    assert _indexed(router, scope) is _linear(router.routes, scope)


async def test_served_answers_are_starlettes() -> None:
    """Handled as Starlette would: the router in place of Starlette's, over the same requests."""
    indexed = Starlette()
    indexed.router = IndexedRouter(TRICKY)
    theirs = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=Starlette(routes=TRICKY)), base_url="http://t"
    )
    mine = httpx.AsyncClient(transport=httpx.ASGITransport(app=indexed), base_url="http://t")
    for method, path in [
        ("GET", "/a/b/c"),
        ("PUT", "/a/b/c"),
        ("POST", "/a/b/c"),
        ("DELETE", "/a/b/c"),  # 405 with every allowed method of the first partial
        ("GET", "/a/q/r"),
        ("GET", "/n/12"),
        ("GET", "/n/twelve"),
        ("GET", "/f/pre1"),
        ("GET", "/p/x/y.js"),
        ("GET", "/s"),  # redirected to /s/
        ("GET", "/m/inside"),
        ("GET", "/nowhere"),
        ("GET", "/"),
    ]:
        a = await theirs.request(method, path, follow_redirects=False)
        b = await mine.request(method, path, follow_redirects=False)
        assert (b.status_code, b.text, b.headers.get("allow"), b.headers.get("location")) == (
            a.status_code,
            a.text,
            a.headers.get("allow"),
            a.headers.get("location"),
        ), (method, path)
