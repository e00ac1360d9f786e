"""The sync streams: pages of three entries over ten people and four groups, so that a leaver, a
disabled person, a removed photo and a nested group all sit on pages after the first, and the
pass still sees the whole directory (it keeps no list of its own; the store marks who was seen).
"""

from __future__ import annotations

import asyncio
from typing import Any

import ldap3

from openucwa.actions import directory as actions
from openucwa.cli import services
from openucwa.config import from_env
from openucwa.directory.client import Directory, DirectoryConfig

from . import slapd as sl
from .conftest import add_entry, admin, delete, ldap_env, modify

PAGE = 3


def _people(slapd: sl.Slapd, ou: str) -> dict[int, tuple[str, str]]:
    """p0 … p9 (p9 with a photo) and groups g0 ∋ g3 ∋ p7, g1 ∋ p0, g2 empty; n → (dn, uri)."""
    tag = ou.split(",")[0][3:]
    made: dict[int, tuple[str, str]] = {}
    for n in range(10):
        login = f"p{n}{tag}"
        dn, attrs = sl.person(
            login,
            f"Person {n} {tag}",
            "pw",
            base=ou,
            mail=f"{login}@contoso.com",
            photo=sl.PHOTO if n == 9 else None,
        )
        add_entry(slapd, dn, attrs)
        made[n] = (dn, f"{login}@contoso.com")
    groups = {3: [made[7][0]], 0: [f"cn=G3 {tag},{ou}"], 1: [made[0][0]], 2: []}
    for n, members in groups.items():  # g3 is created first: a member must exist in slapd
        attrs: dict[str, Any] = {"objectClass": ["group"], "cn": f"G{n} {tag}"}
        if members:
            attrs["member"] = members
        else:  # groupOfNames needs a member: one outside the user filter's reach
            attrs["member"] = [sl.SERVICE_DN]
        add_entry(slapd, f"cn=G{n} {tag},{ou}", attrs)
    return made


def _sync(slapd: sl.Slapd, db: Any, ou: str) -> tuple[actions.SyncReport, list[int]]:
    env = ldap_env(slapd, ldap_user_base=ou, ldap_group_base=ou, ldap_page_size=str(PAGE))
    settings = from_env(env=env, data_dir=db.data_dir, database_url=db.url)
    config = DirectoryConfig.from_settings(settings)
    assert config is not None
    pages: list[int] = []

    async def go() -> actions.SyncReport:
        async with services(db.data_dir, db.url) as svc:
            return await actions.sync(svc, Directory(config), pages.append)

    return asyncio.run(go()), pages


def _state(db: Any, uris: list[str]) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with services(db.data_dir, db.url) as svc, svc.store.transaction() as tx:
            out: dict[str, Any] = {}
            for uri in uris:
                user = await tx.get_user(uri)
                assert user is not None
                photo = await tx.get_photo(uri)
                groups = [g.name.split()[0] for g in await tx.member_groups(uri)]
                out[uri] = (user.disabled, photo, groups)
            return out

    return asyncio.run(go())


def test_pages_stream_and_leavers_on_later_pages_are_signed_out(
    slapd: sl.Slapd, unit_ou: str, directory_db: Any
) -> None:
    ou = unit_ou
    made = _people(slapd, ou)
    uri = {n: u for n, (_, u) in made.items()}
    report, pages = _sync(slapd, directory_db, ou)
    assert pages == [3, 3, 3, 1]  # ten people, pages of three
    assert (report.added, report.updated, report.disabled, report.groups) == (10, 0, 0, 4)
    state = _state(directory_db, list(uri.values()))
    assert state[uri[9]][1] is not None and state[uri[9]][1][0] == sl.PHOTO
    assert state[uri[7]][2] == ["G0", "G3"]  # g3 came on a later page than g0, which contains it
    assert state[uri[0]][2] == ["G1"]

    delete(slapd, made[1][0])  # a leaver on the first page …
    delete(slapd, made[8][0])  # … and one on the last
    modify(slapd, made[5][0], userAccountControl="514")  # disabled in AD: the filter leaves it out
    modify(slapd, made[4][0], msRTCSIP_UserEnabled="FALSE")  # returned, but may not sign in
    conn = admin(slapd)
    try:  # the photo removed in the directory
        assert conn.modify(made[9][0], {"thumbnailPhoto": [(ldap3.MODIFY_DELETE, [])]}), conn.result
    finally:
        conn.unbind()

    report, pages = _sync(slapd, directory_db, ou)
    assert sum(pages) == 7
    assert (report.added, report.updated, report.unchanged, report.disabled) == (0, 1, 5, 4)
    state = _state(directory_db, list(uri.values()))
    assert {n for n in uri if state[uri[n]][0]} == {1, 4, 5, 8}
    assert state[uri[9]][1] is None  # no photo any more: people resources show generated initials
    assert state[uri[7]][2] == ["G0", "G3"]

    again, _ = _sync(slapd, directory_db, ou)  # nothing changed: nobody is signed out twice
    assert (again.added, again.updated, again.unchanged, again.disabled) == (0, 0, 6, 0)
