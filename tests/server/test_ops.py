"""/healthz, /readyz and /metrics in process, on a real SQLite file (issue #10, item 8)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from openucwa.server.app import create_app
from openucwa.store.sql.ops import head_revision
from tests.conftest import REDIS_URL, redis_unreachable

from .conftest import BASE, SARA, InProcessFactory

TOKEN = "metrics-token-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, keyed by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_healthz_answers_without_auth_and_echoes_a_request_id(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        r = await srv.http.get("/healthz")
        assert r.status_code == 200 and r.json() == {"status": "alive"}
        assert r.headers["cache-control"] == "no-store"
        made = r.headers["x-request-id"]
        again = await srv.http.get("/healthz")
        assert again.headers["x-request-id"] != made  # one id per request
        for header in ("X-Ms-Request-Id", "X-Request-Id"):
            r = await srv.http.get("/healthz", headers={header: "client-chosen-42"})
            assert r.headers["x-request-id"] == "client-chosen-42"
        # an id that is not a plain token is replaced, never echoed into a header or a log line
        r = await srv.http.get("/healthz", headers={"X-Request-Id": "x" * 200})
        assert r.headers["x-request-id"] != "x" * 200
        r = await srv.http.get("/healthz", headers={"X-Request-Id": 'a"b<script>'})
        assert "<" not in r.headers["x-request-id"]
        assert (await srv.http.post("/healthz")).status_code == 405


async def test_ucwa_error_bodies_carry_the_request_id(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        r = await s.get(s.self_href + "/nothing-here", headers={"X-Request-Id": "trace-me-7"})
        assert r.status_code == 404
        assert r.headers["x-request-id"] == "trace-me-7"
        assert r.json()["debugInfo"]["requestId"] == "trace-me-7"


async def test_readyz_names_a_schema_behind_this_release(
    in_process: InProcessFactory, tmp_path: Path
) -> None:
    async with in_process() as srv:
        r = await srv.http.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}
        # Another process (an older release's migration, a half-done restore) leaves the schema behind.
        with sqlite3.connect(tmp_path / "openucwa.sqlite3") as other:
            other.execute("UPDATE alembic_version SET version_num = '0001'")
        r = await srv.http.get("/readyz")
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "not ready" and body["checks"]["database"] == "ok"
        assert body["checks"]["migrations"] == f"at 0001, this release needs {head_revision()}"
        assert (await srv.http.get("/healthz")).status_code == 200  # alive all the same


@pytest.mark.redis
async def test_readyz_checks_redis_when_configured(in_process: InProcessFactory) -> None:
    if reason := redis_unreachable():
        pytest.skip(reason)
    async with in_process(redis_url=REDIS_URL) as srv:
        r = await srv.http.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["checks"] == {"database": "ok", "migrations": "ok", "redis": "ok"}


async def test_metrics_are_for_loopback_clients_unless_a_token_is_set(
    in_process: InProcessFactory, tmp_path: Path
) -> None:
    async with in_process() as srv:  # httpx's ASGI transport presents 127.0.0.1
        assert (await srv.http.get("/metrics")).status_code == 200
        relayed = await srv.http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert relayed.status_code == 403
    async with in_process(metrics_token=TOKEN) as srv:
        assert (await srv.http.get("/metrics")).status_code == 401  # loopback is not enough then
        wrong = await srv.http.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
        ok = await srv.http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain; version=0.0.4")
    async with in_process(metrics=False) as srv:
        assert (await srv.http.get("/metrics")).status_code == 404


async def test_metrics_from_a_remote_client(tmp_path: Path) -> None:
    """A client that is not on this machine needs the token."""
    from openucwa.config import Settings

    for token, expected in ((None, 403), (TOKEN, 200)):
        app = create_app(Settings(data_dir=str(tmp_path), metrics_token=token))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
                r = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
                assert r.status_code == expected, r.text


async def test_metrics_count_requests_pgets_applications_and_failures(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        form = {"grant_type": "password", "username": SARA[0], "password": "wrong"}
        assert (await srv.http.post("/WebTicket/oauthtoken", data=form)).status_code == 400
        assert (await s.post(s.link("me", "makeMeAvailable"), json={})).status_code == 204
        first = (await s.get(s.link("events"))).json()  # answers at once with those events
        held = asyncio.create_task(s.get(first["_links"]["next"]["href"]))
        await srv.until(lambda: srv.held() == 1)
        srv.app.runtime.metrics.rate_limited("token")  # the API limits use
        got = samples((await srv.http.get("/metrics")).text)
        assert got[("openucwa_pgets_held", ())] == 1
        assert got[("openucwa_applications_active", ())] == 1
        assert got[("openucwa_conversations_active", ())] == 0
        assert got[("openucwa_sign_in_failures_total", ())] == 1
        assert got[("openucwa_rate_limit_hits_total", (("limit", "token"),))] == 1
        assert got[("openucwa_events_delivered_total", ())] >= 1
        assert got[("openucwa_db_transaction_seconds_count", ())] >= 3
        ok = (("method", "POST"), ("route", "/webticket/oauthtoken"), ("status", "400"))
        assert got[("openucwa_http_requests_total", ok)] == 1
        apps = (("method", "POST"), ("route", "/ucwa/oauth/v1/applications"), ("status", "201"))
        assert got[("openucwa_http_requests_total", apps)] == 1
        # the 401 challenge comes before routing: labelled "unrouted", never with the client's path
        unrouted = (("method", "GET"), ("route", "unrouted"), ("status", "401"))
        assert got[("openucwa_http_requests_total", unrouted)] == 1
        await srv.http.get("/no/such/path/" + "x" * 50)
        got = samples((await srv.http.get("/metrics")).text)
        assert not any("x" * 50 in str(labels) for _, labels in got)
        not_found = (("method", "GET"), ("route", "unrouted"), ("status", "404"))
        assert got[("openucwa_http_requests_total", not_found)] == 1
        held.cancel()


@pytest.mark.serial  # bounds an answer in seconds
async def test_probes_do_not_wait_for_another_process_holding_the_write_lock(
    in_process: InProcessFactory, tmp_path: Path
) -> None:
    """The CLI may hold SQLite's write lock; readiness and the gauges only read (WAL readers do not
    wait), so neither stalls the event loop for the 5 s busy timeout."""
    async with in_process() as srv:
        await srv.sign_in(*SARA[::2])
        other = sqlite3.connect(tmp_path / "openucwa.sqlite3", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE applications SET status = 'expired'")  # not committed: unseen
            started = time.monotonic()
            ready = await srv.http.get("/readyz")
            scraped = samples((await srv.http.get("/metrics")).text)
            assert time.monotonic() - started < 1.0
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert ready.status_code == 200
        assert scraped[("openucwa_applications_active", ())] == 1
        assert scraped.get(("openucwa_metrics_scrape_errors_total", ()), 0) == 0


async def test_pgets_are_observed_and_guarded_like_every_request(in_process: InProcessFactory) -> None:
    """The event channel's own path (routes.events.EventChannelFirst) counts, ids and challenges a
    P-GET as the middleware stack does; a cross-origin one takes that stack, CORS included."""
    origin = "http://localhost:3000"
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        assert (await s.post(s.link("me", "makeMeAvailable"), json={})).status_code == 204
        href = s.link("events")
        bare = await srv.http.get(href, headers={"Accept": "application/json", "X-Ms-Request-Id": "pget-1"})
        assert bare.status_code == 401 and bare.headers["x-request-id"] == "pget-1"
        assert bare.headers["www-authenticate"].startswith('MsRtcOAuth href="')
        first = await s.get(href, headers={"X-Ms-Request-Id": "pget-2"})
        assert first.status_code == 200 and first.headers["x-request-id"] == "pget-2"
        assert "access-control-allow-origin" not in first.headers
        again = await s.get(href, headers={"Origin": origin})  # the same batch, replayed
        assert again.status_code == 200 and again.content == first.content
        assert again.headers["access-control-allow-origin"] == origin and again.headers["x-request-id"]
        gone = await s.get(href.replace(s.self_href, s.self_href[:-4] + "0000"))
        assert gone.status_code == 404
        assert gone.json()["debugInfo"]["requestId"] == gone.headers["x-request-id"]
        got = samples((await srv.http.get("/metrics")).text)
        route = "/ucwa/oauth/v1/applications/{app_id}/events"
        ok = (("method", "GET"), ("route", route), ("status", "200"))
        assert got[("openucwa_http_requests_total", ok)] == 2
        missing = (("method", "GET"), ("route", route), ("status", "404"))
        assert got[("openucwa_http_requests_total", missing)] == 1
        unrouted = (("method", "GET"), ("route", "unrouted"), ("status", "401"))
        assert got[("openucwa_http_requests_total", unrouted)] == 2  # the sign-in's challenge, and ours
