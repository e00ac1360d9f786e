"""OpenUCWA Web: the built browser client (``src/openucwa/web/app``), served at the root.

The client speaks only the public UCWA API, same-origin, so the page can carry a strict policy: no
inline script, nothing loaded from elsewhere, framed only by the server's own pages. The HTML is
revalidated on every load so a new build is picked up at once; the assets it names carry a content
hash in their file names and are cached for a year.
"""

from __future__ import annotations

import functools
import mimetypes
from importlib.resources import files
from importlib.resources.abc import Traversable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..runtime import Runtime
from . import route

APP_PREFIX = "/app/"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self'"
)
_COMMON = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_IMMUTABLE = "public, max-age=31536000, immutable"


def _walk(node: Traversable, prefix: str, out: dict[str, Traversable]) -> None:
    for child in node.iterdir():
        name = f"{prefix}{child.name}"
        if child.is_dir():
            _walk(child, name + "/", out)
        else:
            out[name.lower()] = child


def _assets() -> dict[str, Traversable]:
    """Built files by lower-cased path under ``/app/`` (request paths arrive case-folded)."""
    root = files("openucwa.web").joinpath("app")
    found: dict[str, Traversable] = {}
    if root.is_dir():
        _walk(root, "", found)
    return found


def wants_app(request: Request) -> bool:
    """A browser navigating to the root, as opposed to a UCWA client asking for discovery."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept


def _index_response(body: bytes | None) -> Response:
    if body is None:
        return Response(
            "The web client is not built: run `make install` (needs Node.js) or install a wheel.\n",
            status_code=503,
            media_type="text/plain",
            headers={"Cache-Control": "no-cache", **_COMMON},
        )
    return Response(
        body, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache", **_COMMON}
    )


class WebApp:
    """The built files, read once: they are small and change only with a new package."""

    def __init__(self) -> None:
        self.files = _assets()
        index = self.files.get("index.html")
        self.index_body = index.read_bytes() if index is not None else None

    def index(self) -> Response:
        return _index_response(self.index_body)

    async def asset(self, request: Request) -> Response:
        path = str(request.path_params["path"]).lower()
        f = self.files.get(path)
        if f is None or path == "index.html":
            return Response("not found\n", status_code=404, media_type="text/plain", headers=_COMMON)
        media = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if media.startswith("text/") or media in ("application/javascript", "image/svg+xml"):
            media += "; charset=utf-8"
        cache = _IMMUTABLE if path.startswith("assets/") else "no-cache"
        return Response(f.read_bytes(), media_type=media, headers={"Cache-Control": cache, **_COMMON})


@functools.cache
def _built() -> WebApp:
    return WebApp()


def index() -> Response:
    """The app's page, for ``GET /`` from a browser (discovery.root decides who gets it)."""
    return _built().index()


def routes(rt: Runtime) -> list[Route]:
    del rt  # the client needs no settings: it finds everything through the root
    return [route(APP_PREFIX + "{path:path}", _built().asset, ["GET"])]
