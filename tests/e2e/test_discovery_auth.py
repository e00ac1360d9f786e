"""Discovery, the 401 challenge and the token service, against a real server (SPEC §5)."""

from __future__ import annotations

import httpx

from .ucwa import JSON, token_for

USER_PATH = "/Autodiscover/AutodiscoverService.svc/root/oauth/user"


def test_root_links_are_absolute_on_the_request_host(server) -> None:
    for path in ("/", "/Autodiscover/AutodiscoverService.svc/root"):
        r = httpx.get(server.base + path, headers=JSON)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/json")
        links = r.json()["_links"]
        assert links["user"]["href"] == server.base + USER_PATH
        assert links["xframe"]["href"] == server.base + "/Autodiscover/XFrame/XFrame.html"
        assert r.json()["rel"] == "root"
    # the Host header decides the base, and forwarding headers are ignored unless configured
    r = httpx.get(
        server.base + "/",
        headers={
            **JSON,
            "Host": "lyncweb.contoso.com",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Proto": "https",
        },
    )
    assert r.json()["_links"]["user"]["href"] == "http://lyncweb.contoso.com" + USER_PATH


def test_forwarded_host_is_honoured_behind_a_proxy(make_server) -> None:
    srv = make_server("--behind-proxy")
    r = httpx.get(
        srv.base + "/",
        headers={**JSON, "X-Forwarded-Host": "lyncweb.contoso.com", "X-Forwarded-Proto": "https"},
    )
    assert r.json()["_links"]["user"]["href"] == "https://lyncweb.contoso.com" + USER_PATH


def test_user_resource_challenges_then_links_applications(server) -> None:
    r = httpx.get(server.base + USER_PATH, headers=JSON)
    assert r.status_code == 401
    challenges = r.headers.get_list("www-authenticate")
    assert challenges == [f'MsRtcOAuth href="{server.base}/WebTicket/oauthtoken",grant_type="password"']
    token = token_for(server.base, "toshm@contoso.com", "tosh-secret")
    r = httpx.get(
        server.base + USER_PATH + "?originalDomain=contoso.com",
        headers={**JSON, "Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["rel"] == "user"
    assert body["_links"]["applications"]["href"] == server.base + "/ucwa/oauth/v1/applications"
    assert body["_links"]["self"]["href"] == server.base + USER_PATH + "?originalDomain=contoso.com"


def test_token_service(server) -> None:
    url = server.base + "/WebTicket/oauthtoken"
    ok = httpx.post(
        url,
        content=b"grant_type=password&username=toshm%40contoso.com&password=tosh-secret",
        headers={"Content-Type": "application/x-www-form-urlencoded;charset='utf-8'"},
    )
    assert ok.status_code == 200
    assert ok.headers["cache-control"] == "no-store"
    body = ok.json()
    assert body["access_token"].startswith("cwt=") and body["token_type"] == "Bearer"
    assert 28000 < body["expires_in"] <= 28800
    wrong = httpx.post(
        url, data={"grant_type": "password", "username": "toshm@contoso.com", "password": "nope"}
    )
    unknown = httpx.post(
        url, data={"grant_type": "password", "username": "nobody@contoso.com", "password": "nope"}
    )
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json() == {"error": "invalid_grant"}
    for grant in ("urn:microsoft.rtc:windows", "urn:microsoft.rtc:passive", "client_credentials"):
        r = httpx.post(url, data={"grant_type": grant})
        assert (r.status_code, r.json()) == (400, {"error": "unsupported_grant_type"})
    r = httpx.post(url, data={"grant_type": "password", "username": "toshm@contoso.com"})
    assert r.json() == {"error": "invalid_request"}
    r = httpx.post(
        url, data={"grant_type": "password", "username": "a@b.c", "password": "x", "scope": "bogus"}
    )
    assert r.json() == {"error": "invalid_scope"}
    r = httpx.post(url, json={"grant_type": "password"})
    assert (r.status_code, r.json()) == (400, {"error": "invalid_request"})


def test_every_ucwa_path_needs_a_valid_token(server) -> None:
    for method, path in [
        ("POST", "/ucwa/oauth/v1/applications"),
        ("GET", "/ucwa/oauth/v1/applications/123456789012"),
        ("GET", "/ucwa/oauth/v1/applications/123456789012/events?ack=1"),
        ("GET", "/ucwa/oauth/v1/no/such/thing"),
    ]:
        for auth in (None, "Bearer cwt=forged", "Basic dG9zaDp4", "Bearer"):
            headers = {**JSON, **({"Authorization": auth} if auth else {})}
            r = httpx.request(method, server.base + path, headers=headers)
            assert r.status_code == 401, (method, path, auth)
            assert r.headers["www-authenticate"].startswith('MsRtcOAuth href="')


def test_tokens_survive_a_restart(server) -> None:
    token = token_for(server.base, "lenea@contoso.com", "lene-secret")
    server.restart()
    r = httpx.get(server.base + USER_PATH, headers={**JSON, "Authorization": f"Bearer {token}"})
    assert r.status_code == 200


def test_tokens_expire(make_server) -> None:
    srv = make_server("--no-event-aggregation", env={"OPENUCWA_TOKEN_LIFETIME": "1"})
    token = token_for(srv.base, "lenea@contoso.com", "lene-secret")
    import time

    issued = time.monotonic()
    statuses = []
    while time.monotonic() - issued < 5:  # the real lifetime is the deadline under test: poll it
        r = httpx.get(srv.base + USER_PATH, headers={**JSON, "Authorization": f"Bearer {token}"})
        statuses.append(r.status_code)
        if r.status_code == 401:
            break
    assert statuses[-1] == 401, statuses
    assert time.monotonic() - issued >= 0.9  # not before its lifetime ran out


def test_disallowed_origin_is_refused_with_a_reason(server) -> None:
    r = httpx.get(server.base + "/", headers={**JSON, "X-Ms-Origin": "https://evil.example"})
    assert r.status_code == 403
    assert r.json()["code"] == "Forbidden"
    assert (
        'reason="Service does not allow a cross domain request from this origin."'
        in r.headers["x-ms-diagnostics"]
    )
    for origin in ("http://localhost", "http://127.0.0.1:5173", "https://[::1]:8443", server.base):
        assert httpx.get(server.base + "/", headers={**JSON, "X-Ms-Origin": origin}).status_code == 200


def test_configured_allow_list_replaces_the_default(make_server) -> None:
    srv = make_server("--allowed-origin", "https://portal.contoso.com")
    ok = httpx.get(srv.base + "/", headers={**JSON, "X-Ms-Origin": "https://portal.contoso.com"})
    refused = httpx.get(srv.base + "/", headers={**JSON, "X-Ms-Origin": "http://localhost:3000"})
    assert (ok.status_code, refused.status_code) == (200, 403)
