"""The XFrame page (SPEC §5.3, §6.3): relays requests for pages of allowed origins."""

from __future__ import annotations

import base64
import hashlib
from importlib.resources import files

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ...core.links import XFRAME_ALIAS, XFRAME_PATH
from ..http import SECURITY_HEADERS
from ..runtime import Runtime
from . import route

_PLACEHOLDER = "/*ALLOWED_ORIGINS*/[]"


def render(allowed: tuple[str, ...]) -> str:
    """The page with the allow-list baked in; an empty list means loopback and the page's own origin."""
    page = files("openucwa.web").joinpath("xframe.html").read_text(encoding="utf-8")
    # The origins were validated as scheme://host[:port]; "<" is escaped anyway, so that no value can
    # close the script element it is written into.
    literal = orjson.dumps(list(allowed)).decode().replace("<", "\\u003c")
    return page.replace(_PLACEHOLDER, literal)


def policy(page: str) -> str:
    """The page's Content-Security-Policy: its one inline script by hash and requests to its own
    origin only. No frame-ancestors: any page may frame the relay, which itself answers only the
    allowed origins and stays silent to the others (SPEC §6.3)."""
    script = page.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return (
        f"default-src 'none'; script-src 'sha256-{digest}'; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'"
    )


def routes(rt: Runtime) -> list[Route]:
    page = render(rt.settings.allowed_origins)
    headers = {
        "Cache-Control": "no-cache",
        "Content-Security-Policy": policy(page),
        **SECURITY_HEADERS,
    }

    async def xframe(request: Request) -> Response:
        return HTMLResponse(page, headers=headers)

    return [route(XFRAME_PATH, xframe, ["GET"]), route(XFRAME_ALIAS, xframe, ["GET"])]
