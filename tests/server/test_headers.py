"""Security headers on every answer, and the photo cookie as a photo-scoped, short-lived credential
(findings of issue #10: the cookie carried the bearer token, usable as one, with no SameSite and
no Secure behind TLS; no security headers anywhere)."""

from __future__ import annotations

import base64
import hashlib

from .conftest import SARA, InProcessFactory

TOKEN_URL = "/WebTicket/oauthtoken"


def _secure(headers: object) -> None:
    h = dict(headers)  # type: ignore[call-overload]  # httpx.Headers
    assert h.get("x-content-type-options") == "nosniff", h
    assert h.get("referrer-policy") == "no-referrer", h


async def test_every_kind_of_answer_carries_the_headers(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        answers = [
            await s.get(s.self_href),  # 200 with a body
            await s.post(s.link("me", "makeMeAvailable"), json={}),  # 204
            await s.get(s.self_href + "/nope"),  # 404 UCWA error
            await srv.http.get(s.self_href),  # 401 challenge
            await srv.http.post(TOKEN_URL, data={"grant_type": "password"}),  # OAuth error
            await srv.http.get("/", headers={"Accept": "text/html"}),  # the landing page
            await srv.http.get("/Autodiscover/XFrame/XFrame.html"),
        ]
        for r in answers:
            _secure(r.headers)
        for r in answers[:4]:
            assert "no-store" in r.headers["cache-control"], r.headers  # per user: never kept
        assert "no-cache" in answers[0].headers["cache-control"]  # what the seed shows, kept


async def test_xframe_policy_allows_its_own_script_only(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        r = await srv.http.get("/Autodiscover/XFrame/XFrame.html")
        csp = r.headers["content-security-policy"]
        script = r.text.split("<script>", 1)[1].split("</script>", 1)[0]
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"script-src 'sha256-{digest}'" in csp
        assert "unsafe-inline" not in csp and "connect-src 'self'" in csp
        assert "frame-ancestors" not in csp  # any page may frame the relay; it answers allowed ones only


async def test_photo_cookie_is_not_the_token_and_opens_only_photos(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        r = await s.get(s.self_href)
        cookie = r.headers["set-cookie"]
        value = cookie.split(";", 1)[0].removeprefix("cwt_ucwa=")
        token = s.headers["Authorization"].removeprefix("Bearer cwt=")
        assert value and value != token and token not in cookie
        assert "SameSite=Strict" in cookie and "HttpOnly" in cookie and "Max-Age=3600" in cookie
        assert "Secure" not in cookie  # plain HTTP here
        photo = s.self_href + "/photos/sarad@contoso.com"
        jar = {"Cookie": f"cwt_ucwa={value}"}
        assert (await srv.http.get(photo, headers=jar)).status_code == 200
        assert (await srv.http.get(s.self_href + "/me", headers=jar)).status_code == 401
        bearer = {"Authorization": f"Bearer cwt={value}"}
        assert (await srv.http.get(photo, headers=bearer)).status_code == 401
        other = await srv.sign_in(*SARA[::2])  # her second application: its own photos, its own key
        assert (
            await srv.http.get(other.self_href + "/photos/sarad@contoso.com", headers=jar)
        ).status_code == 401
        tampered = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
        assert (await srv.http.get(photo, headers={"Cookie": f"cwt_ucwa={tampered}"})).status_code == 401
        srv.clock.advance(3601)  # short-lived
        assert (await srv.http.get(photo, headers=jar)).status_code == 401


async def test_photo_cookie_is_secure_behind_tls(in_process: InProcessFactory) -> None:
    async with in_process(
        public_base_url="https://lync.contoso.com", allowed_hosts=("openucwa.test",)
    ) as srv:
        s = await srv.sign_in(*SARA[::2])
        cookie = (await s.get(s.self_href)).headers["set-cookie"]
        assert "; Secure" in cookie
