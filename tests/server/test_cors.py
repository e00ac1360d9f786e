"""CORS mode (issue #11 item 3): pages on allowed origins call the API directly; others get nothing."""

from __future__ import annotations

from .conftest import SARA, InProcessFactory

APP = "https://intranet.contoso.com"
EVIL = "https://evil.example"


async def test_preflight_for_an_allowed_origin(in_process: InProcessFactory) -> None:
    async with in_process(allowed_origins=(APP,)) as srv:
        r = await srv.http.options(
            "/ucwa/oauth/v1/applications",
            headers={
                "Origin": APP,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Authorization, Content-Type, X-Ms-Origin",
            },
        )
        assert r.status_code == 204  # answered before authentication: a preflight has no token
        assert r.headers["access-control-allow-origin"] == APP
        assert r.headers["access-control-allow-credentials"] == "true"
        assert "authorization" in r.headers["access-control-allow-headers"]
        assert "x-ms-origin" in r.headers["access-control-allow-headers"]
        assert "POST" in r.headers["access-control-allow-methods"]


async def test_disallowed_origins_get_no_cors_headers(in_process: InProcessFactory) -> None:
    async with in_process(allowed_origins=(APP,)) as srv:
        pre = await srv.http.options(
            "/ucwa/oauth/v1/applications", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}
        )
        assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers
        s = await srv.sign_in(*SARA[::2])
        r = await s.get(s.self_href, headers={"Origin": EVIL})
        assert "access-control-allow-origin" not in r.headers
        odd = await srv.http.options(
            "/ucwa/oauth/v1/applications",
            headers={
                "Origin": APP,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "X-Evil",
            },
        )
        assert odd.status_code == 403  # a header UCWA clients do not send


async def test_an_allowed_origin_is_echoed_never_a_star(in_process: InProcessFactory) -> None:
    async with in_process(allowed_origins=(APP,)) as srv:
        s = await srv.sign_in(*SARA[::2])
        r = await s.get(s.self_href, headers={"Origin": APP})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == APP
        assert r.headers["access-control-allow-credentials"] == "true"
        for name in ("Location", "ETag", "WWW-Authenticate", "X-Ms-diagnostics"):
            assert name in r.headers["access-control-expose-headers"]
        challenge = await srv.http.get(s.self_href, headers={"Origin": APP})  # no token
        assert challenge.status_code == 401 and challenge.headers["access-control-allow-origin"] == APP
    async with in_process() as srv:  # default list: loopback and the server's own origin only
        s = await srv.sign_in(*SARA[::2])
        assert (await s.get(s.self_href, headers={"Origin": "http://127.0.0.1:3000"})).headers[
            "access-control-allow-origin"
        ] == "http://127.0.0.1:3000"
        assert (
            "access-control-allow-origin" not in (await s.get(s.self_href, headers={"Origin": APP})).headers
        )
