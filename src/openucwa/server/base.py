"""Where the server says it lives: the base URL absolute discovery hrefs are built on (SPEC §3.1).

The base comes from ``PUBLIC_BASE_URL`` when set, else from the request's ``Host`` (and, behind a
proxy, ``X-Forwarded-Host``/``-Proto``). Those headers end up in links a client follows with its
password (the token URL of the 401 challenge), so they are checked before anything uses them:
a well-formed host name or IP literal with an optional port, one the server answers for
(``ALLOWED_HOSTS``, the host of ``PUBLIC_BASE_URL``, or loopback), and a scheme of http or https.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.requests import Request

from ..config import Settings
from ..core import errors
from ..core.errors import UcwaError
from ..core.links import Discovery

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(
    rf"^(?P<name>{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{{1,5}}))?$", re.IGNORECASE
)
LOOPBACK = frozenset({"localhost", "127.0.0.1", "[::1]"})
SCHEMES = ("http", "https")


def host_name(value: str) -> str | None:
    """The lower-case host name of a ``Host`` value, or None when it is not a well-formed one."""
    m = _HOST.match(value.strip())
    if m is None or (m["port"] is not None and int(m["port"]) > 65535):
        return None
    return m["name"].lower().rstrip(".")


class HostPolicy:
    """Which ``Host`` values this node answers for; decided once per distinct value."""

    __slots__ = ("_allowed", "_seen")

    def __init__(self, settings: Settings) -> None:
        names = {h.lower() for h in settings.allowed_hosts}
        if settings.public_base_url:
            names.add((urlsplit(settings.public_base_url).hostname or "").lower())
        self._allowed = frozenset(names)  # empty: any well-formed host (the zero-configuration default)
        self._seen: dict[str, bool] = {}

    def allows(self, value: str) -> bool:
        ok = self._seen.get(value)
        if ok is None:
            name = host_name(value)
            ok = name is not None and (not self._allowed or name in self._allowed or name in LOOPBACK)
            if len(self._seen) < 1024:  # a bounded memo: a flood of odd hosts is merely recomputed
                self._seen[value] = ok
        return ok


def refused_host(headers: dict[str, str] | None = None) -> UcwaError:
    return UcwaError(errors.BAD_REQUEST, "The Host is not one this server answers for.", headers=headers)


def base_url(request: Request, settings: Settings) -> str:
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    scheme = request.url.scheme
    host = request.headers.get("host") or f"{settings.host}:{settings.port}"
    if settings.behind_proxy:
        scheme = request.headers.get("x-forwarded-proto", scheme).split(",")[0].strip().lower() or scheme
        host = request.headers.get("x-forwarded-host", host).split(",")[0].strip() or host
    if scheme not in SCHEMES or host_name(host) is None:
        raise refused_host()
    return f"{scheme}://{host}"


def discovery(request: Request, settings: Settings) -> Discovery:
    return Discovery(base_url(request, settings))
