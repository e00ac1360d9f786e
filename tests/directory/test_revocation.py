"""Revocation: a password change, a removal or a disable stops every earlier token on every node
within a second, and an account re-created at the same address starts with nothing of the old one.

The change is made as ``openucwa user …`` makes it, from another process's view: straight into the
shared database, so the server learns of it only through the store (and Redis, between nodes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from openucwa.actions import users as actions_users
from openucwa.cli import services
from openucwa.core.links import USER_PATH
from tests.conftest import USERS

from ..e2e.ucwa import sign_in

WITHIN = 1.0  # seconds


def operator(server: Any, fn: Callable[[Any], Any]) -> None:
    async def go() -> None:
        async with services(server.data_dir, server.database_url) as svc:
            await fn(svc)

    asyncio.run(go())


def refused_within(get: Callable[[], httpx.Response], limit: float = WITHIN) -> float:
    """Seconds until ``get`` answers 401 (polling); fails when it takes longer than ``limit``."""
    started = time.monotonic()
    while True:
        status = get().status_code
        elapsed = time.monotonic() - started
        if status == 401:
            return elapsed
        assert status == 200, status
        if elapsed > limit:
            pytest.fail(f"the old token still worked {elapsed:.2f} s after the change")
        time.sleep(0.02)


def app_get(session: Any, base: str | None = None) -> Callable[[], httpx.Response]:
    """GET of the user resource on a node: 200 while the token is honoured, 401 once it is not
    (the application may end sooner: removal ends it)."""
    url = (base or session.base) + USER_PATH
    return lambda: httpx.get(url, headers=session.headers, timeout=10)


def test_password_change_revokes_earlier_tokens(make_isolated_server: Callable[..., Any]) -> None:
    srv = make_isolated_server("--no-event-aggregation")
    _, password = USERS["toshm@contoso.com"]
    s = sign_in(srv.base, "toshm@contoso.com", password, endpoint="rev-pw")
    for _ in range(5):  # the token is now in the node's cache
        assert app_get(s)().status_code == 200
    operator(srv, lambda svc: actions_users.set_password(svc, "toshm@contoso.com", "new-secret"))
    refused_within(app_get(s))
    again = sign_in(srv.base, "toshm@contoso.com", "new-secret", endpoint="rev-pw")
    assert again.self_href == s.self_href  # the application itself lives on; only the token died
    with pytest.raises(httpx.HTTPStatusError):
        sign_in(srv.base, "toshm@contoso.com", password)


def test_removal_revokes_and_a_recreated_address_starts_empty(
    make_isolated_server: Callable[..., Any],
) -> None:
    srv = make_isolated_server("--no-event-aggregation")
    name, password = USERS["lenea@contoso.com"]
    s = sign_in(srv.base, "lenea@contoso.com", password, endpoint="rev-rm")
    assert app_get(s)().status_code == 200
    operator(srv, lambda svc: actions_users.remove_user(svc, "lenea@contoso.com"))
    refused_within(app_get(s))

    operator(srv, lambda svc: actions_users.add_user(svc, "lenea@contoso.com", name, "fresh-secret"))
    fresh = sign_in(srv.base, "lenea@contoso.com", "fresh-secret", endpoint="rev-rm")
    assert fresh.self_href != s.self_href  # same endpointId, yet a new application (201, not 200)
    old = httpx.get(s.url(s.self_href), headers=fresh.headers, timeout=10)
    assert old.status_code == 404  # the old account's application is not the new one's
    assert not fresh.app["_embedded"]["communication"].get("conversations")


@pytest.mark.postgres
@pytest.mark.redis
def test_two_nodes_refuse_a_revoked_token_within_a_second(two_nodes: tuple[Any, Any]) -> None:
    a, b = two_nodes
    _, password = USERS["sarad@contoso.com"]
    s = sign_in(a.base, "sarad@contoso.com", password, endpoint="rev-two-nodes")
    on_a, on_b = app_get(s, a.base), app_get(s, b.base)
    for _ in range(5):  # both nodes have the token cached
        assert on_a().status_code == 200 and on_b().status_code == 200
    try:
        operator(a, lambda svc: actions_users.set_password(svc, "sarad@contoso.com", "rotated"))
        refused_within(on_b)
        refused_within(on_a)
    finally:
        operator(a, lambda svc: actions_users.set_password(svc, "sarad@contoso.com", password))
