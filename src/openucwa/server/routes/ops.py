"""``/healthz``, ``/readyz`` and ``/metrics``: for load balancers, orchestrators and Prometheus.

None of them needs a UCWA token. ``/healthz`` says only that the process answers (a liveness probe
must not fail because the database did: restarting the server would not fix the database).
``/readyz`` checks what a request needs (database reachable, schema at this release's head, Redis
when configured) and names what failed. ``/metrics`` tells a lot about use, so it is served to
loopback clients not relayed by a proxy, or to anyone presenting ``METRICS_TOKEN`` when one is set.
"""

from __future__ import annotations

import hmac
import ipaddress

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...actions import ops
from ...metrics import CONTENT_TYPE
from ..runtime import Runtime
from . import route

HEALTH_PATH, READY_PATH, METRICS_PATH = "/healthz", "/readyz", "/metrics"
_NO_STORE = {"Cache-Control": "no-store"}
_FORWARDED = (b"x-forwarded-for", b"forwarded", b"x-real-ip")


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, headers=_NO_STORE, media_type="application/json")


def _loopback_direct(request: Request) -> bool:
    """A client on this machine talking to us directly, not a proxy relaying someone else."""
    client = request.scope.get("client")
    if not client or any(name in _FORWARDED for name, _ in request.scope["headers"]):
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


def metrics_refusal(request: Request, enabled: bool, token: str | None) -> Response | None:
    if not enabled:
        return _json({"error": "metrics are disabled on this server"}, 404)
    if token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        refusal = _json({"error": "a valid metrics token is required"}, 401)
        refusal.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return refusal
    if _loopback_direct(request):
        return None
    return _json({"error": "metrics are served to loopback clients only unless METRICS_TOKEN is set"}, 403)


def routes(rt: Runtime) -> list[Route]:
    async def healthz(request: Request) -> Response:
        return _json({"status": "alive"})

    async def readyz(request: Request) -> Response:
        result = await ops.readiness(rt.services)
        body = {"status": "ready" if result.ready else "not ready", "checks": result.checks}
        return _json(body, 200 if result.ready else 503)

    async def metrics(request: Request) -> Response:
        settings = rt.settings
        refusal = metrics_refusal(request, settings.metrics, settings.metrics_token)
        if refusal is not None:
            return refusal
        svc = rt.services
        try:
            await ops.refresh_gauges(svc)
        except Exception:  # the database gauges keep their last value; /readyz says what is wrong
            svc.metrics.scrape_errors.inc()
        return Response(svc.metrics.render(), headers=_NO_STORE, media_type=CONTENT_TYPE)

    return [
        route(HEALTH_PATH, healthz, ["GET"]),
        route(READY_PATH, readyz, ["GET"]),
        route(METRICS_PATH, metrics, ["GET"]),
    ]
