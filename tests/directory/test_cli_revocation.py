"""``openucwa user remove``, ``user passwd`` and ``directory sync``, each run as its own process,
end what a running server holds for that user at once: the held P-GET answers 401 (or 404/410 for
an ended application) within a second. On SQLite the server notices the revocation counter by
itself; two nodes do the same, with or without the command publishing on Redis. A watcher's held
P-GET hears of the change too, although the other process's own wakes reach no one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from openucwa.core.links import USER_PATH
from tests.conftest import REDIS_URL, USERS

from ..e2e.ucwa import Session, sign_in
from .conftest import modify
from .test_sync import cli_sync, people

WITHIN = 1.0  # seconds, from the command's exit


def cli(srv: Any, *args: str, redis: bool = False) -> None:
    cmd = [sys.executable, "-m", "openucwa", *args, "--data-dir", srv.data_dir]
    if srv.database_url:
        cmd += ["--database-url", srv.database_url]
    env = {k: v for k, v in os.environ.items() if k != "OPENUCWA_REDIS_URL"}
    if redis:
        env["OPENUCWA_REDIS_URL"] = REDIS_URL
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def held(pool: ThreadPoolExecutor, s: Session, base: str | None = None) -> Future[httpx.Response]:
    """A P-GET of ``s`` held by the server (the channel drained first), on node ``base`` if given."""
    href = s.app["_links"]["events"]["href"]
    for _ in range(10):
        pending = pool.submit(lambda u=(base or s.base) + href: httpx.get(u, headers=s.headers, timeout=120))
        time.sleep(0.5)
        if not pending.done():
            return pending
        href = pending.result().json()["_links"]["next"]["href"]
    pytest.fail("no P-GET was held")


def answered_within(pending: Future[httpx.Response], run: Callable[[], None]) -> tuple[httpx.Response, float]:
    run()
    done_at = time.monotonic()
    response = pending.result(timeout=30)
    return response, time.monotonic() - done_at


def test_cli_remove_ends_the_held_pget_and_watchers_hear_of_it(
    make_isolated_server: Callable[..., Any],
) -> None:
    srv = make_isolated_server("--no-event-aggregation")
    lene = sign_in(srv.base, "lenea@contoso.com", USERS["lenea@contoso.com"][1], endpoint="cli-rm")
    tosh = sign_in(srv.base, "toshm@contoso.com", USERS["toshm@contoso.com"][1], endpoint="cli-rm-w")
    lene.make_me_available()
    subs = tosh.app["_embedded"]["people"]["_links"]["presenceSubscriptions"]["href"]
    made = tosh.post(subs, json={"duration": 11, "uris": ["sip:lenea@contoso.com"]})
    assert made.status_code == 201, made.text
    with ThreadPoolExecutor(2) as pool:
        lenes, toshs = held(pool, lene), held(pool, tosh)
        response, after = answered_within(lenes, lambda: cli(srv, "user", "remove", "lenea@contoso.com"))
        assert response.status_code in (401, 404, 410), response.text
        assert after < WITHIN, f"the held P-GET answered {after:.2f} s after the command"
        watcher = toshs.result(timeout=WITHIN + 1)  # woken by the change, not at its deadline
    assert watcher.status_code == 200
    assert httpx.get(srv.base + USER_PATH, headers=lene.headers).status_code == 401


def test_cli_password_change_ends_the_held_pget_with_401(make_isolated_server: Callable[..., Any]) -> None:
    srv = make_isolated_server("--no-event-aggregation")
    tosh = sign_in(srv.base, "toshm@contoso.com", USERS["toshm@contoso.com"][1], endpoint="cli-pw")
    with ThreadPoolExecutor(1) as pool:
        pending = held(pool, tosh)
        response, after = answered_within(
            pending, lambda: cli(srv, "user", "passwd", "toshm@contoso.com", "--password", "rotated")
        )
    assert response.status_code == 401 and "MsRtcOAuth" in response.headers["www-authenticate"]
    assert after < WITHIN, f"the held P-GET answered {after:.2f} s after the command"
    again = sign_in(srv.base, "toshm@contoso.com", "rotated", endpoint="cli-pw")
    assert again.self_href == tosh.self_href  # the application lives on: only the token died
    with ThreadPoolExecutor(1) as pool:  # its channel holds a new P-GET at once (not 409 Replaced)
        pending = held(pool, again)
        again.delete(again.self_href)
        pending.result(timeout=10)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("redis", [True, False], ids=["cli-on-redis", "cli-without-redis"])
def test_two_nodes_end_held_pgets_on_a_cli_revocation(two_nodes: tuple[Any, Any], redis: bool) -> None:
    a, b = two_nodes
    user = "sarad@contoso.com"
    _, password = USERS[user]
    s = sign_in(a.base, user, password, endpoint=f"cli-two-{redis}")
    try:
        with ThreadPoolExecutor(1) as pool:
            pending = held(pool, s, base=b.base)  # held by the node the command never talks to
            response, after = answered_within(
                pending, lambda: cli(a, "user", "passwd", user, "--password", "rotated", redis=redis)
            )
        assert response.status_code == 401
        assert after < WITHIN, f"node b answered {after:.2f} s after the command"
    finally:
        cli(a, "user", "passwd", user, "--password", password)


def test_cli_directory_sync_ends_a_disabled_persons_held_pget(
    slapd: Any, unit_ou: str, directory_db: Any, directory_server: Callable[..., Any]
) -> None:
    dns = people(slapd, unit_ou)
    tag = unit_ou.split(",")[0][3:]
    # The server's own sync waits an hour: only the command's pass can sign Cyd out.
    srv = directory_server(ldap_user_base=unit_ou, ldap_group_base=unit_ou, ldap_sync_interval="3600")
    cyd = sign_in(srv.base, f"cyd{tag}@contoso.com", "cyd-pw", endpoint="cli-sync-cyd")
    with ThreadPoolExecutor(1) as pool:
        pending = held(pool, cyd)
        modify(slapd, dns["cyd"], userAccountControl="514")  # ACCOUNTDISABLE

        def run() -> None:
            done = cli_sync(slapd, directory_db, unit_ou)
            assert done.returncode == 0 and "1 disabled" in done.stdout, done.stdout + done.stderr

        response, after = answered_within(pending, run)
    assert response.status_code in (401, 404, 410), response.text
    assert after < WITHIN, f"the held P-GET answered {after:.2f} s after the command"
