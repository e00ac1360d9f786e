"""``openucwa directory check`` shows what the server sees of one user; the OpenLDAP attribute map
(inetOrgPerson, uid, jpegPhoto) signs people in as the AD one does."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import httpx

from openucwa.core.links import TOKEN_PATH

from . import slapd as sl
from .conftest import ldap_env


def check(slapd: sl.Slapd, user: str, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ldap_env(slapd)}
    args = [sys.executable, "-m", "openucwa", "directory", "check", user, *flags]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_check_prints_what_the_server_would_see(slapd: sl.Slapd) -> None:
    done = check(slapd, "CONTOSO\\lenea")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "sip uri:     sip:lenea@contoso.com" in out and "upn:         lene.aaling@corp.contoso.com" in out
    assert "may sign in: yes" in out and "(sAMAccountName=lenea)" in out
    photo = check(slapd, "toshm@contoso.com")
    assert "photo:" in photo.stdout and f"{len(sl.PHOTO)} bytes" in photo.stdout
    off = check(slapd, "sip:sipoff@contoso.com")
    assert off.returncode == 0 and "may sign in: no (msRTCSIP-UserEnabled is FALSE)" in off.stdout
    missing = check(slapd, "adoff@contoso.com")  # the default AD filter leaves disabled accounts out
    assert missing.returncode == 1 and "cannot sign in" in missing.stderr
    assert "svc-secret" not in off.stdout + off.stderr


def test_check_reports_an_unreachable_directory_in_one_line(slapd: sl.Slapd) -> None:
    done = check(slapd, "lenea@contoso.com", "--ldap-url", "ldap://127.0.0.1:9")
    assert done.returncode == 1 and done.stderr.startswith("error: the directory cannot be reached")


def test_openldap_schema(slapd: sl.Slapd, directory_server: Any) -> None:
    done = check(slapd, "sarad@contoso.com", "--ldap-schema", "openldap", "--ldap-user-base", sl.STAFF)
    assert done.returncode == 0, done.stderr
    assert "office:      B-12" in done.stdout and f"{len(sl.PHOTO)} bytes" in done.stdout
    srv = directory_server(ldap_schema="openldap", ldap_user_base=sl.STAFF)
    for name in ("sarad@contoso.com", "CONTOSO\\SaraD"):
        data = {"grant_type": "password", "username": name, "password": "sara-ldap"}
        assert httpx.post(srv.base + TOKEN_PATH, data=data, timeout=30).status_code == 200, name
