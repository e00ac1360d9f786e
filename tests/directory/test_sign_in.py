"""Signing in with the company directory: every login form Skype for Business accepted, one answer
for every failure, local accounts beside the directory (a real slapd, a real server)."""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

import httpx
import pytest

from openucwa.core.links import TOKEN_PATH

LOGINS = [
    ("toshm@contoso.com", "tosh-ldap", "toshm@contoso.com"),  # UPN = mail = SIP
    ("sip:TOSHM@Contoso.com", "tosh-ldap", "toshm@contoso.com"),
    ("CONTOSO\\toshm", "tosh-ldap", "toshm@contoso.com"),
    ("contoso\\TOSHM", "tosh-ldap", "toshm@contoso.com"),
    ("lene.aaling@corp.contoso.com", "lene-ldap", "lenea@contoso.com"),  # UPN ≠ SIP address
    ("LENEA@contoso.com", "lene-ldap", "lenea@contoso.com"),  # mail
    ("mail.only@contoso.com", "mail-ldap", "mail.only@contoso.com"),  # no SIP address: mail
    ("upnonly@contoso.com", "upn-ldap", "upnonly@contoso.com"),  # no SIP, no mail: UPN
    ("helpdesk@contoso.com", "bot-secret", "helpdesk@contoso.com"),  # a local account
]


def token(base: str, username: str, password: str) -> httpx.Response:
    return httpx.post(
        base + TOKEN_PATH,
        data={"grant_type": "password", "username": username, "password": password},
        timeout=20,
    )


def me_uri(base: str, access_token: str) -> str:
    r = httpx.post(
        base + "/ucwa/oauth/v1/applications",
        json={"userAgent": "directory-test", "endpointId": str(uuid.uuid4()), "culture": "en-US"},
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=20,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["_embedded"]["me"]["uri"])


def test_every_login_form_signs_in_as_the_right_person(directory_server: Any) -> None:
    srv = directory_server()
    for username, password, uri in LOGINS:
        r = token(srv.base, username, password)
        assert r.status_code == 200, (username, r.text)
        assert me_uri(srv.base, r.json()["access_token"]) == f"sip:{uri}", username
    assert "tosh-ldap" not in srv.log() and "lene-ldap" not in srv.log()


FAILURES = [
    ("toshm@contoso.com", "wrong"),  # wrong password
    ("nobody@contoso.com", "whatever"),  # unknown
    ("CONTOSO\\nobody", "whatever"),  # unknown down-level name
    ("FABRIKAM\\toshm", "tosh-ldap"),  # another domain
    ("adoff@contoso.com", "adoff-ldap"),  # disabled in AD (userAccountControl bit 2)
    ("sip:sipoff@contoso.com", "sipoff-ldap"),  # msRTCSIP-UserEnabled FALSE
    ("helpdesk@contoso.com", "wrong"),  # local account, wrong password
    ("CONTOSO\\helpdesk", "bot-secret"),  # local accounts have no down-level name
    ("toshm@contoso.com*", "tosh-ldap"),  # filter metacharacters change nothing
    ("*", "x"),
]


@pytest.mark.serial  # compares response times
def test_every_failure_is_the_same_invalid_grant_in_the_same_time(directory_server: Any) -> None:
    srv = directory_server()
    times: dict[str, list[float]] = {}
    for _ in range(3):
        for username, password in FAILURES:
            started = time.monotonic()
            r = token(srv.base, username, password)
            times.setdefault(username + password, []).append(time.monotonic() - started)
            assert (r.status_code, r.json()) == (400, {"error": "invalid_grant"}), username
    medians = [statistics.median(v) for v in times.values()]
    assert max(medians) - min(medians) < 0.1, times


@pytest.mark.parametrize("username", ["toshm@contoso.com", "CONTOSO\\toshm"])
def test_an_empty_password_is_never_an_anonymous_bind(directory_server: Any, username: str) -> None:
    srv = directory_server()
    assert token(srv.base, username, "").status_code == 400
    assert token(srv.base, username, " ").json() == {"error": "invalid_grant"}
