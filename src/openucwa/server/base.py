"""Where the server says it lives: the base URL absolute discovery hrefs are built on (SPEC §3.1)."""

from __future__ import annotations

from starlette.requests import Request

from ..config import Settings
from ..core.links import Discovery


def base_url(request: Request, settings: Settings) -> str:
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    scheme = request.url.scheme
    host = request.headers.get("host") or f"{settings.host}:{settings.port}"
    if settings.behind_proxy:
        scheme = request.headers.get("x-forwarded-proto", scheme).split(",")[0].strip() or scheme
        host = request.headers.get("x-forwarded-host", host).split(",")[0].strip() or host
    return f"{scheme}://{host}"


def discovery(request: Request, settings: Settings) -> Discovery:
    return Discovery(base_url(request, settings))
