"""A real slapd for the session, and servers whose accounts come from it (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ldap3
import pytest

from tests.conftest import (
    REDIS_URL,
    Database,
    Server,
    _seed,
    _start,
    create_pg_database,
    drop_pg_database,
    redis_unreachable,
)

from . import slapd as sl

LOCAL_USERS = {"helpdesk@contoso.com": ("Helpdesk Bot", "bot-secret")}


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sl.Slapd]:
    if reason := sl.unavailable():
        pytest.skip(reason)
    server = sl.Slapd(tmp_path_factory.mktemp("slapd"))
    server.setup()
    server.start()
    yield server
    server.cleanup()


def ldap_env(ldap: sl.Slapd, **more: str) -> dict[str, str]:
    env = {
        "OPENUCWA_LDAP_URL": ldap.url,
        "OPENUCWA_LDAP_BIND_DN": sl.SERVICE_DN,
        "OPENUCWA_LDAP_BIND_PASSWORD": sl.SERVICE_PW,
        "OPENUCWA_LDAP_USER_BASE": sl.PEOPLE,
        "OPENUCWA_LDAP_GROUP_BASE": sl.GROUPS,
        "OPENUCWA_LDAP_NETBIOS_DOMAIN": "CONTOSO",
        "OPENUCWA_LDAP_TIMEOUT": "2",
    }
    env.update({f"OPENUCWA_{k.upper()}": v for k, v in more.items()})
    return env


def admin(ldap: sl.Slapd) -> ldap3.Connection:
    conn = ldap3.Connection(ldap3.Server(ldap.url, get_info=ldap3.NONE), sl.ADMIN_DN, sl.ADMIN_PW)
    assert conn.bind()
    return conn


def add_entry(ldap: sl.Slapd, dn: str, attrs: dict[str, Any]) -> None:
    conn = admin(ldap)
    try:
        classes = attrs.pop("objectClass")
        assert conn.add(dn, classes, attrs), conn.result
    finally:
        conn.unbind()


def modify(ldap: sl.Slapd, dn: str, **values: Any) -> None:
    conn = admin(ldap)
    try:
        changes = {k.replace("_", "-"): [(ldap3.MODIFY_REPLACE, [v])] for k, v in values.items()}
        assert conn.modify(dn, changes), conn.result
    finally:
        conn.unbind()


def delete(ldap: sl.Slapd, dn: str) -> None:
    conn = admin(ldap)
    try:
        assert conn.delete(dn), conn.result
    finally:
        conn.unbind()


@pytest.fixture
def unit_ou(slapd: sl.Slapd) -> Iterator[str]:
    """An organizational unit of the test's own in the session's slapd, so counts are exact."""
    ou = f"ou=t{uuid.uuid4().hex[:8]},{sl.PEOPLE}"
    add_entry(slapd, ou, {"objectClass": ["organizationalUnit"], "ou": ou.split(",")[0][3:]})
    yield ou


@pytest.fixture
def directory_db(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A database of its own with one local account, so directory people do not meet the suite's
    seeded local users."""
    name = create_pg_database() if backend == "postgres" else None
    db = Database(str(tmp_path / "data"), f"postgresql://127.0.0.1:5432/{name}" if name else None)
    asyncio.run(_seed(db.data_dir, db.url, LOCAL_USERS))
    yield db
    if name:
        drop_pg_database(name)


@pytest.fixture
def directory_server(directory_db: Database, slapd: sl.Slapd, tmp_path: Path) -> Iterator[Any]:
    """``directory_server(*flags, ldap=slapd, **settings)`` → a node whose directory is ``ldap``."""
    started: list[Server] = []

    def factory(*flags: str, ldap: sl.Slapd | None = None, **settings: str) -> Server:
        env = ldap_env(ldap or slapd, **settings)
        srv = _start(directory_db, tmp_path, ("--no-event-aggregation", *flags), env)
        started.append(srv)
        return srv

    yield factory
    for srv in started:
        srv.stop()


@pytest.fixture
def two_nodes(backend: str, make_server: Callable[..., Any]) -> tuple[Any, Any]:
    if backend != "postgres":
        pytest.skip("two nodes need a database shared by several processes: PostgreSQL, not SQLite")
    if reason := redis_unreachable():
        pytest.skip(reason)
    flags = ("--no-event-aggregation", "--redis-url", REDIS_URL)
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda _: make_server(*flags), range(2))
    return a, b
