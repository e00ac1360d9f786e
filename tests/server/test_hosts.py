"""Host, X-Forwarded-* and origins reach links and pages only once checked (findings of issue #10:
a reflected Host in the landing page, a rewritten token URL in the 401 challenge, javascript://
links behind a proxy, an operator origin written raw into the XFrame page's script)."""

from __future__ import annotations

import pytest

from openucwa.config import SettingsError, from_env
from openucwa.server.routes.xframe import render

from .conftest import InProcessFactory

EVIL = 'evil"><script>alert(1)</script>'
USER = "/Autodiscover/AutodiscoverService.svc/root/oauth/user"


async def test_malformed_host_is_refused_everywhere(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        for path, accept in (("/", "text/html"), ("/", "application/json"), (USER, "application/json")):
            r = await srv.http.get(path, headers={"Host": EVIL, "Accept": accept})
            assert r.status_code == 400, (path, r.text)
            assert r.json()["code"] == "BadRequest" and "<script>" not in r.text
            assert "www-authenticate" not in r.headers


async def test_zero_configuration_answers_any_well_formed_host(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        r = await srv.http.get("/", headers={"Host": "lync.contoso.com:8443", "Accept": "application/json"})
        assert r.json()["_links"]["user"]["href"].startswith("http://lync.contoso.com:8443/")


async def test_allowed_hosts_decide_who_gets_a_challenge(in_process: InProcessFactory) -> None:
    async with in_process(allowed_hosts=("lync.contoso.com",)) as srv:
        ok = await srv.http.get(USER, headers={"Host": "LYNC.contoso.com"})
        assert ok.status_code == 401
        assert 'href="http://LYNC.contoso.com/WebTicket/oauthtoken"' in ok.headers["www-authenticate"]
        loopback = await srv.http.get(USER, headers={"Host": "127.0.0.1:8080"})
        assert loopback.status_code == 401
        other = await srv.http.get(USER, headers={"Host": "attacker.example"})
        assert other.status_code == 400 and "www-authenticate" not in other.headers


async def test_public_base_url_pins_the_host(in_process: InProcessFactory) -> None:
    async with in_process(public_base_url="https://lync.contoso.com") as srv:
        r = await srv.http.get(USER, headers={"Host": "lync.contoso.com"})
        assert 'href="https://lync.contoso.com/WebTicket/oauthtoken"' in r.headers["www-authenticate"]
        assert (await srv.http.get(USER, headers={"Host": "attacker.example"})).status_code == 400


async def test_forwarded_headers_are_checked_behind_a_proxy(in_process: InProcessFactory) -> None:
    async with in_process(behind_proxy=True, allowed_hosts=("lync.contoso.com",)) as srv:
        good = {
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "lync.contoso.com",
            "Accept": "application/json",
        }
        r = await srv.http.get("/", headers=good)
        assert r.json()["_links"]["user"]["href"].startswith("https://lync.contoso.com/")
        for bad in ({"X-Forwarded-Proto": "javascript"}, {"X-Forwarded-Host": "attacker.example"}):
            r = await srv.http.get("/", headers={**good, **bad})
            assert r.status_code == 400, bad
    async with in_process() as srv:  # not behind a proxy: the headers are not even looked at
        r = await srv.http.get("/", headers={"X-Forwarded-Proto": "javascript", "Accept": "application/json"})
        assert r.json()["_links"]["user"]["href"].startswith("http://")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OPENUCWA_ALLOWED_ORIGINS", 'http://a"></script><script>alert(1)//'),
        ("OPENUCWA_ALLOWED_ORIGINS", "javascript://x"),
        ("OPENUCWA_ALLOWED_ORIGINS", "https://contoso.com/path"),
        ("OPENUCWA_PUBLIC_BASE_URL", "javascript://lync.contoso.com"),
        ("OPENUCWA_PUBLIC_BASE_URL", "https://user@lync.contoso.com"),
        ("OPENUCWA_ALLOWED_HOSTS", "lync.contoso.com:443"),
    ],
)
def test_settings_refuse_what_could_break_out(name: str, value: str) -> None:
    with pytest.raises(SettingsError):
        from_env({name: value})


def test_settings_accept_origins_hosts_and_base_urls() -> None:
    s = from_env(
        {
            "OPENUCWA_ALLOWED_ORIGINS": "https://intranet.contoso.com,http://127.0.0.1:3000,*",
            "OPENUCWA_ALLOWED_HOSTS": "lync.contoso.com,[::1]",
            "OPENUCWA_PUBLIC_BASE_URL": "https://lync.contoso.com:4443/ucwa-gw",
        }
    )
    assert s.allowed_hosts == ("lync.contoso.com", "[::1]")


def test_xframe_page_cannot_be_broken_out_of() -> None:
    page = render(("</script><script>alert(1)</script>",))
    assert "</script><script>alert(1)" not in page
    assert "\\u003c/script>" in page
