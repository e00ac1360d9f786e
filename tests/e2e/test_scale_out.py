"""Two nodes sharing PostgreSQL and Redis: a wake caused on one node reaches a P-GET held on the other.

Both nodes run ``--no-event-aggregation``, so an event is released as soon as its P-GET wakes; the
P-GET's own deadline is minutes away, so an answer within a couple of seconds can only come from a
wake that crossed nodes through Redis.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import REDIS_URL, redis_unreachable

from .ucwa import events_of, sign_in, until_held

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CROSS_NODE_WAKE = 2.0  # seconds


@pytest.fixture
def two_nodes(backend: str, request: pytest.FixtureRequest) -> tuple[Any, Any]:
    if backend != "postgres":
        pytest.skip("scale-out needs a database shared by several processes: PostgreSQL, not SQLite")
    if reason := redis_unreachable():
        pytest.skip(reason)
    make_server: Callable[..., Any] = request.getfixturevalue("make_server")
    flags = ("--no-event-aggregation", "--redis-url", REDIS_URL)
    with ThreadPoolExecutor(2) as pool:  # both nodes boot at once: half the wait
        a, b = pool.map(lambda _: make_server(*flags), range(2))
    return a, b


def _on(node: Any, href: str) -> str:
    """The same resource (path and query), addressed to another node."""
    parts = urlsplit(href)
    return node.base + parts.path + (f"?{parts.query}" if parts.query else "")


async def _answer(pending: asyncio.Task[httpx.Response]) -> httpx.Response:
    try:
        return await asyncio.wait_for(pending, 10)
    except TimeoutError:
        pytest.fail("the P-GET got no answer within 10 s: the wake did not cross nodes")


@pytest.mark.serial  # bounds a wake in seconds
async def test_an_event_caused_on_node_b_wakes_a_pget_held_on_node_a(two_nodes) -> None:
    a, b = two_nodes
    s = sign_in(a.base, "toshm@contoso.com", "tosh-secret", f"scale-{uuid.uuid4()}")
    events_href = s.url(s.app["_links"]["events"]["href"])
    available = s.app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"]
    async with httpx.AsyncClient(headers=s.headers, timeout=30) as c:
        pending = asyncio.create_task(c.get(events_href + "&priority=5"))
        await until_held(c, events_href, 5)
        t0 = time.monotonic()
        # the bearer token lives in the database, so node B honours it for the same application
        r = await c.post(_on(b, available), json={"SupportedModalities": ["Messaging"]})
        assert r.status_code == 204, r.text
        answer = await _answer(pending)
        elapsed = time.monotonic() - t0
    assert answer.status_code == 200, answer.text
    assert elapsed < CROSS_NODE_WAKE, f"answered after {elapsed:.1f} s: the wake did not cross nodes"
    assert ("me", "updated", "me") in events_of(answer.json()), answer.json()


@pytest.mark.serial  # bounds a wake in seconds
async def test_a_pget_sent_to_node_b_replaces_the_one_held_on_node_a(two_nodes) -> None:
    a, b = two_nodes
    s = sign_in(a.base, "lenea@contoso.com", "lene-secret", f"scale-{uuid.uuid4()}")
    events_href = s.url(s.app["_links"]["events"]["href"])
    available = s.app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"]
    async with httpx.AsyncClient(headers=s.headers, timeout=30) as c:
        on_a = asyncio.create_task(c.get(events_href + "&priority=5"))
        await until_held(c, events_href, 5)
        t0 = time.monotonic()
        on_b = asyncio.create_task(c.get(_on(b, events_href) + "&priority=5"))
        replaced = await _answer(on_a)
        elapsed = time.monotonic() - t0
        assert (replaced.status_code, replaced.json()["subcode"]) == (409, "PGetReplaced"), replaced.text
        assert elapsed < CROSS_NODE_WAKE, f"replaced after {elapsed:.1f} s: the wake did not cross nodes"
        await until_held(c, _on(b, events_href), 5)

        # and the other way round: an event caused on node A wakes the P-GET now held on node B
        t0 = time.monotonic()
        r = await c.post(s.url(available), json={"SupportedModalities": ["Messaging"]})
        assert r.status_code == 204, r.text
        answer = await _answer(on_b)
        elapsed = time.monotonic() - t0
    assert answer.status_code == 200, answer.text
    assert elapsed < CROSS_NODE_WAKE, f"answered after {elapsed:.1f} s: the wake did not cross nodes"
    assert ("me", "updated", "me") in events_of(answer.json()), answer.json()


def test_an_im_between_users_on_different_nodes(two_nodes: tuple[Any, Any]) -> None:
    """Tosh works through node A, Lene through node B: the whole IM crosses nodes both ways."""
    from .people import connect, messaging_links, party, text_of
    from .ucwa import find

    a, b = two_nodes
    tosh = party(a, "toshm@contoso.com", "tosh-secret")
    lene = party(b, "lenea@contoso.com", "lene-secret")
    try:
        t0 = time.monotonic()
        tev, lev, _ = connect(tosh, lene)
        send = messaging_links(tev)["sendMessage"]["href"]
        assert (
            tosh.s.post(
                send, content="across nodes ✓".encode(), headers={"Content-Type": "text/plain"}
            ).status_code
            == 201
        )
        got = find(lene.ch.until("completed", "message"), "completed", "message")
        assert text_of(got["_embedded"]["message"]) == "across nodes ✓"
        assert find(tosh.ch.until("completed", "message"), "completed", "message")["status"] == "Success"
        reply = messaging_links(lev)["sendMessage"]["href"]
        assert (
            lene.s.post(reply, content=b"and back", headers={"Content-Type": "text/plain"}).status_code == 201
        )
        back = find(tosh.ch.until("completed", "message", direction="Incoming"), "completed", "message")
        assert text_of(back["_embedded"]["message"]) == "and back"
        assert time.monotonic() - t0 < 20  # wakes, not P-GET deadlines, carried every step
    finally:
        for p in (tosh, lene):
            p.s.delete(p.a)
