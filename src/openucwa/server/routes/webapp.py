"""OpenUCWA Web: the built browser client (``src/openucwa/web/app``), served at the root.

The client speaks only the public UCWA API, same-origin, so the page can carry a strict policy: no
inline script, nothing loaded from elsewhere, framed only by the server's own pages. The HTML is
revalidated on every load so a new build is picked up at once; the assets it names carry a content
hash in their file names and are cached for a year.
"""

from __future__ import annotations

import functools
import gzip
import mimetypes
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Asset:
    body: bytes
    gzipped: bytes | None  # when compressing pays (text), done once at start-up
    media_type: str
    cache: str


def _load(path: str, f: Traversable) -> _Asset:
    body = f.read_bytes()
    media = mimetypes.guess_type(path)[0] or "application/octet-stream"
    text = media.startswith("text/") or media in (
        "application/javascript",
        "image/svg+xml",
        "application/json",
    )
    if text:
        media += "; charset=utf-8"
    packed = gzip.compress(body, 9, mtime=0) if text and len(body) > 1024 else None
    cache = _IMMUTABLE if path.startswith("assets/") else "no-cache"
    return _Asset(body, packed if packed and len(packed) < len(body) else None, media, cache)


class WebApp:
    """The built files, read (and compressed) once: they are small and change only with a package."""

    def __init__(self) -> None:
        found = _assets()
        index = found.pop("index.html", None)
        self.index_body = index.read_bytes() if index is not None else None
        self.files = {path: _load(path, f) for path, f in found.items()}

    def index(self) -> Response:
        return _index_response(self.index_body)

    async def asset(self, request: Request) -> Response:
        a = self.files.get(str(request.path_params["path"]).lower())
        if a is None:
            return Response("not found\n", status_code=404, media_type="text/plain", headers=_COMMON)
        headers = {"Cache-Control": a.cache, "Vary": "Accept-Encoding", **_COMMON}
        if a.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(a.gzipped, media_type=a.media_type, headers=headers)
        return Response(a.body, media_type=a.media_type, headers=headers)


@functools.cache
def _built() -> WebApp:
    return WebApp()


def index() -> Response:
    """The app's page, for ``GET /`` from a browser (discovery.root decides who gets it)."""
    return _built().index()


def routes(rt: Runtime) -> list[Route]:
    del rt  # the client needs no settings: it finds everything through the root
    return [route(APP_PREFIX + "{path:path}", _built().asset, ["GET"])]
