"""The directory goes away and comes back: sign-ins answer a retryable 503 (and the server says why
in its log), signed-in users carry on, and the scheduled sync picks up again by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openucwa.core.links import TOKEN_PATH

from ..e2e.ucwa import sign_in
from . import slapd as sl
from .conftest import add_entry


@pytest.fixture
def own_slapd(tmp_path: Path) -> Iterator[sl.Slapd]:
    """A directory of this test's own, which it may stop and start."""
    if reason := sl.unavailable():
        pytest.skip(reason)
    server = sl.Slapd(tmp_path / "slapd")
    server.setup()
    server.start()
    yield server
    server.cleanup()


def grant(base: str, username: str, password: str) -> httpx.Response:
    data = {"grant_type": "password", "username": username, "password": password}
    return httpx.post(base + TOKEN_PATH, data=data, timeout=30)


def test_directory_down_then_back(own_slapd: sl.Slapd, directory_server: Any) -> None:
    srv = directory_server(ldap=own_slapd, ldap_sync_interval="1")
    tosh = sign_in(srv.base, "CONTOSO\\toshm", "tosh-ldap", endpoint="down-tosh")

    own_slapd.stop()
    r = grant(srv.base, "toshm@contoso.com", "tosh-ldap")
    assert r.status_code == 503 and int(r.headers["retry-after"]) > 0
    assert r.json()["code"] == "ServiceUnavailable" and r.json()["error"] == "temporarily_unavailable"
    # A local account does not need the directory.
    assert grant(srv.base, "helpdesk@contoso.com", "bot-secret").status_code == 200
    # Signed-in users keep working.
    assert httpx.get(tosh.url(tosh.self_href), headers=tosh.headers).status_code == 200
    time.sleep(1.5)  # a scheduled pass fails meanwhile
    log = srv.log()
    assert "company directory unreachable" in log and "directory sync failed" in log
    assert "tosh-ldap" not in log

    own_slapd.start()  # same port
    dn, attrs = sl.person("newbie", "Nina Newbie", "nina-ldap", sip="sip:newbie@contoso.com")
    add_entry(own_slapd, dn, attrs)
    search = tosh.url(tosh.app["_embedded"]["people"]["_links"]["search"]["href"])
    deadline = time.monotonic() + 40  # the retry after a failed pass comes within min(interval, 30 s)
    while not httpx.get(search, params={"query": "Nina"}, headers=tosh.headers).json()["_embedded"][
        "contact"
    ]:
        assert time.monotonic() < deadline, "the sync did not resume"
        time.sleep(0.2)
    assert grant(srv.base, "toshm@contoso.com", "tosh-ldap").status_code == 200


def test_a_refused_service_account_is_a_503_with_the_reason_in_the_log(directory_server: Any) -> None:
    srv = directory_server(ldap_bind_password="not-the-password")
    r = grant(srv.base, "toshm@contoso.com", "tosh-ldap")
    assert r.status_code == 503 and r.headers["retry-after"]
    assert "service account" in srv.log() and "not-the-password" not in srv.log()
