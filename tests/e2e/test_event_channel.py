"""The event channel over real HTTP (SPEC §8): numbering, replay, resync, replacement, wakes."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from .ucwa import sign_in, until_held


def _session(server, user: str = "toshm@contoso.com", pw: str = "tosh-secret"):
    return sign_in(server.base, user, pw, str(uuid.uuid4()))


def test_batches_are_numbered_and_replayed_identically(server) -> None:
    s = _session(server)
    first = s.app["_links"]["events"]["href"]
    s.make_me_available()
    r1 = s.get(first)
    assert r1.status_code == 200 and r1.headers["content-type"].startswith("application/json")
    page = r1.json()
    assert page["_links"]["self"]["href"] == first
    nxt = page["_links"]["next"]["href"]
    assert nxt == first.replace("ack=1", "ack=2")
    # the response was "lost": asking again gives the same bytes
    again = s.get(first)
    assert again.content == r1.content
    # the application's events link still points at the first unacknowledged batch
    assert s.get(s.self_href).json()["_links"]["events"]["href"] == first


def test_resync_when_out_of_step(server) -> None:
    s = _session(server)
    href = s.app["_links"]["events"]["href"]
    base = href.split("?")[0]
    for bad in (base + "?ack=7", base + "?ack=0", base):
        r = s.get(bad)
        assert r.status_code == 200
        assert r.json() == {"_links": {"resync": {"href": href}}}
    r = s.get(base + "?ack=abc")
    assert (r.status_code, r.json()["subcode"]) == (400, "ParameterValidationFailure")


async def test_disconnecting_client_releases_its_pget(server) -> None:
    """A real socket closing is the thing under test, so this one runs against a real server and
    polls for the condition, a bounded while. Replacement and wakes are tested in process
    (tests/server/test_event_channel.py)."""
    s = _session(server)
    href = s.url(s.app["_links"]["events"]["href"])
    async with httpx.AsyncClient(headers=s.headers, timeout=30) as c:
        first = asyncio.create_task(c.get(href + "&priority=9"))
        await until_held(c, href, 9)
        first.cancel()  # the client goes away
    async with httpx.AsyncClient(headers=s.headers, timeout=30) as c:
        # a lower-priority newcomer is eventually not refused: nothing is pending any more
        async with asyncio.timeout(10):
            while True:
                newcomer = asyncio.create_task(c.get(href + "&priority=0"))
                done, _ = await asyncio.wait({newcomer}, timeout=0.2)
                if not done:
                    break  # held: the channel was free
                assert newcomer.result().json()["subcode"] == "PGetReplaced"  # not yet released
        await c.post(s.url(s.app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"]), json={})
        r = await newcomer
        assert r.status_code == 200 and r.json()["sender"]
