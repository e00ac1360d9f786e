"""The directory sync: newcomers in, changes onto live contact cards, leavers signed out and Offline,
groups as distribution groups (nested, with a cycle); by ``openucwa directory sync`` and on schedule.

Each test works in an organizational unit of its own in the session's slapd, so counts are exact.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from openucwa.core.links import USER_PATH

from ..e2e.ucwa import sign_in
from . import slapd as sl
from .conftest import add_entry, delete, ldap_env, modify


def people(slapd: sl.Slapd, ou: str) -> dict[str, str]:
    """Three people and two nested groups (each containing the other) in ``ou``; uid → dn."""
    tag = ou.split(",")[0][3:]
    dns: dict[str, str] = {}
    for uid, name, extra in (
        ("amy", "Amy Ames", {"title": "Engineer", "phone": "+1 425 555 0101", "photo": sl.PHOTO}),
        ("bob", "Bob Burns", {"title": "Analyst", "department": "Finance"}),
        ("cyd", "Cyd Cole", {}),
    ):
        login = f"{uid}{tag}"
        dn, attrs = sl.person(
            login,
            name,
            f"{uid}-pw",
            base=ou,
            sip=f"sip:{login}@contoso.com",
            mail=f"{login}@contoso.com",
            **extra,
        )
        add_entry(slapd, dn, attrs)
        dns[uid] = dn
    inner, outer = f"cn=Inner {tag},{ou}", f"cn=Outer {tag},{ou}"
    add_entry(
        slapd,
        outer,
        {
            "objectClass": ["group"],
            "cn": f"Outer {tag}",
            "mail": f"outer{tag}@contoso.com",
            "member": [dns["amy"]],
        },
    )
    add_entry(slapd, inner, {"objectClass": ["group"], "cn": f"Inner {tag}", "member": [dns["bob"], outer]})
    conn_modify_members(slapd, outer, [dns["amy"], inner])
    return dns


def conn_modify_members(slapd: sl.Slapd, dn: str, members: list[str]) -> None:
    import ldap3

    from .conftest import admin

    conn = admin(slapd)
    try:
        assert conn.modify(dn, {"member": [(ldap3.MODIFY_REPLACE, members)]}), conn.result
    finally:
        conn.unbind()


def cli_sync(slapd: sl.Slapd, server_db: Any, ou: str) -> subprocess.CompletedProcess[str]:
    # Pages of two entries: three people and two groups take several pages (paged searches).
    env = {**os.environ, **ldap_env(slapd, ldap_user_base=ou, ldap_group_base=ou, ldap_page_size="2")}
    args = [sys.executable, "-m", "openucwa", "directory", "sync", "--data-dir", server_db.data_dir]
    if server_db.url:
        args += ["--database-url", server_db.url]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=False)


def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("the scheduled sync did not apply the change in time")
        time.sleep(0.1)


def test_sync_brings_people_and_groups_in_and_keeps_them_current(
    slapd: sl.Slapd, unit_ou: str, directory_db: Any, directory_server: Any
) -> None:
    dns = people(slapd, unit_ou)
    tag = unit_ou.split(",")[0][3:]
    done = cli_sync(slapd, directory_db, unit_ou)
    assert done.returncode == 0, done.stderr
    assert "3 added, 0 updated, 0 disabled" in done.stdout and "2 distribution groups" in done.stdout
    again = cli_sync(slapd, directory_db, unit_ou)
    assert "0 added, 0 updated, 0 disabled, 3 unchanged" in again.stdout

    srv = directory_server(
        ldap_user_base=unit_ou, ldap_group_base=unit_ou, ldap_sync_interval="1", ldap_page_size="2"
    )
    amy = sign_in(srv.base, f"CONTOSO\\amy{tag}", "amy-pw", endpoint="sync-amy")
    links = amy.app["_embedded"]["people"]["_links"]
    found = httpx.get(
        amy.url(links["search"]["href"]), params={"query": "Bob Burns"}, headers=amy.headers
    ).json()
    (bob,) = found["_embedded"]["contact"]
    assert (bob["title"], bob["department"], bob["uri"]) == (
        "Analyst",
        "Finance",
        f"sip:bob{tag}@contoso.com",
    )

    me = httpx.get(amy.url(links["search"]["href"]), params={"query": "Amy Ames"}, headers=amy.headers).json()
    (card,) = me["_embedded"]["contact"]
    assert card["workPhoneNumber"] == "+1 425 555 0101"
    photo = httpx.get(amy.url(card["_links"]["contactPhoto"]["href"]), headers=amy.headers)
    assert photo.content == sl.PHOTO  # thumbnailPhoto, byte for byte

    # Groups: Amy is in Outer directly and in Inner through Outer; Inner ∋ Bob, Outer (cycle).
    groups = httpx.get(amy.url(links["myGroups"]["href"]), headers=amy.headers).json()
    dist = {g["name"]: g for g in groups["_embedded"]["distributionGroup"]}
    assert set(dist) == {f"Inner {tag}", f"Outer {tag}"}
    assert dist[f"Outer {tag}"]["uri"] == f"sip:outer{tag}@contoso.com"
    expanded = httpx.get(
        amy.url(dist[f"Inner {tag}"]["_links"]["expandDistributionGroup"]["href"]), headers=amy.headers
    ).json()
    assert sorted(c["name"] for c in expanded["_embedded"]["contact"]) == ["Amy Ames", "Bob Burns"]
    searched = httpx.get(
        amy.url(links["search"]["href"]), params={"query": f"outer {tag}"}, headers=amy.headers
    )
    assert [g["name"] for g in searched.json()["_embedded"]["distributionGroup"]] == [f"Outer {tag}"]

    # A change in the directory reaches the contact card on the next scheduled pass, and an
    # application watching Bob hears of it.
    subs = amy.url(links["presenceSubscriptions"]["href"])
    made = httpx.post(subs, json={"duration": 11, "uris": [bob["uri"]]}, headers=amy.headers)
    assert made.status_code == 201, made.text
    wanted = ("updated", "contact", bob["_links"]["self"]["href"])
    seen: list[tuple[str, str, str]] = []
    url = amy.url(amy.app["_links"]["events"]["href"])
    with ThreadPoolExecutor(1) as pool:
        for _ in range(10):  # drain: follow `next` until a P-GET is held
            held = pool.submit(lambda u=url: httpx.get(u, headers=amy.headers, timeout=60))
            time.sleep(0.5)
            if not held.done():
                break
            url = amy.url(held.result().json()["_links"]["next"]["href"])
        modify(slapd, dns["bob"], title="Controller")
        bob_href = amy.url(bob["_links"]["self"]["href"])
        until(lambda: httpx.get(bob_href, headers=amy.headers).json().get("title") == "Controller")
        for _ in range(5):
            page = held.result(timeout=10).json()
            seen += [
                (e["type"], e["link"]["rel"], e["link"]["href"])
                for x in page.get("sender", [])
                for e in x["events"]
            ]
            if wanted in seen:
                break
            url = amy.url(page["_links"]["next"]["href"])
            held = pool.submit(lambda u=url: httpx.get(u, headers=amy.headers, timeout=60))
    assert wanted in seen, seen

    # Someone who leaves is gone from search on the next pass.
    delete(slapd, dns["bob"])
    until(
        lambda: (
            not httpx.get(
                amy.url(links["search"]["href"]), params={"query": "Bob Burns"}, headers=amy.headers
            ).json()["_embedded"]["contact"]
        )
    )


def test_a_disabled_person_is_signed_out_everywhere_and_shown_offline(
    slapd: sl.Slapd, unit_ou: str, directory_server: Any
) -> None:
    dns = people(slapd, unit_ou)
    tag = unit_ou.split(",")[0][3:]
    srv = directory_server(ldap_user_base=unit_ou, ldap_group_base=unit_ou, ldap_sync_interval="1")
    amy = sign_in(srv.base, f"amy{tag}@contoso.com", "amy-pw", endpoint="dis-amy")
    cyd = sign_in(srv.base, f"sip:cyd{tag}@contoso.com", "cyd-pw", endpoint="dis-cyd")
    available = httpx.post(
        cyd.url(cyd.app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"]),
        json={"SupportedModalities": ["Messaging"]},
        headers=cyd.headers,
    )
    assert available.status_code == 204, available.text
    links = amy.app["_embedded"]["people"]["_links"]
    (card,) = httpx.get(
        amy.url(links["search"]["href"]), params={"query": "Cyd Cole"}, headers=amy.headers
    ).json()["_embedded"]["contact"]
    presence = amy.url(card["_links"]["contactPresence"]["href"])
    assert httpx.get(presence, headers=amy.headers).json()["availability"] == "Online"

    url = cyd.url(cyd.app["_links"]["events"]["href"])
    with ThreadPoolExecutor(1) as pool:
        for _ in range(10):  # follow `next` until a P-GET is held (nothing left to deliver)
            held = pool.submit(lambda u=url: httpx.get(u, headers=cyd.headers, timeout=60))
            time.sleep(0.5)
            if not held.done():
                break
            url = cyd.url(held.result().json()["_links"]["next"]["href"])
        assert not held.done()
        modify(slapd, dns["cyd"], userAccountControl="514")  # ACCOUNTDISABLE
        until(lambda: httpx.get(srv.base + USER_PATH, headers=cyd.headers).status_code == 401)
        # The held P-GET is answered at once too, not at its deadline minutes away.
        assert held.result(timeout=5).status_code in (401, 404, 410)
    assert httpx.get(cyd.url(cyd.self_href), headers=cyd.headers).status_code == 401
    assert httpx.get(presence, headers=amy.headers).json()["availability"] == "Offline"
    r = httpx.post(
        srv.base + "/WebTicket/oauthtoken",
        data={"grant_type": "password", "username": f"cyd{tag}@contoso.com", "password": "cyd-pw"},
    )
    assert (r.status_code, r.json()) == (400, {"error": "invalid_grant"})
