"""The event channel over real HTTP (SPEC §8): numbering, replay, resync, replacement, wakes."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from .ucwa import sign_in


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


async def test_ack_prunes_earlier_batches(server) -> None:
    s = _session(server)
    ch = s.events()
    s.make_me_available()
    first = ch.poll()
    first_href = s.url(first["_links"]["self"]["href"])
    async with httpx.AsyncClient(headers=s.headers, timeout=30) as c:
        second = asyncio.create_task(c.get(s.url(ch.next_href)))  # ack=2 acknowledges batch 1
        await asyncio.sleep(0.3)
        r = await c.get(first_href)  # batch 1 is gone: resync to the first unacknowledged one
        assert r.json() == {"_links": {"resync": {"href": ch.next_href}}}
        replaced = await second
        assert (replaced.status_code, replaced.json()["subcode"]) == (409, "PGetReplaced")


async def test_new_pget_replaces_the_pending_one(server) -> None:
    s = _session(server)
    href = s.url(s.app["_links"]["events"]["href"])
    async with httpx.AsyncClient(headers=s.headers, timeout=30) as c:
        old = asyncio.create_task(c.get(href))
        await asyncio.sleep(0.3)
        newer = asyncio.create_task(c.get(href + "&priority=0"))
        r_old = await old  # equal priority replaces: the pending one is answered 409
        assert (r_old.status_code, r_old.json()["subcode"]) == (409, "PGetReplaced")
        high = asyncio.create_task(c.get(href + "&priority=5"))
        r_newer = await newer
        assert (r_newer.status_code, r_newer.json()["subcode"]) == (409, "PGetReplaced")
        refused = await c.get(href + "&priority=1")  # lower than the pending one: refused itself
        assert (refused.status_code, refused.json()["subcode"]) == (409, "PGetReplaced")
        assert not high.done()
        await c.delete(s.url(s.self_href))
        gone = await high
        assert (gone.status_code, gone.json()["subcode"]) == (404, "ApplicationNotFound")


async def test_pending_pget_is_woken_by_an_event_not_a_timer(server) -> None:
    s = _session(server)
    href = s.url(s.app["_links"]["events"]["href"])
    async with httpx.AsyncClient(headers=s.headers, timeout=30) as c:
        pending = asyncio.create_task(c.get(href))
        await asyncio.sleep(0.5)
        assert not pending.done()
        t0 = time.monotonic()
        r = await c.post(s.url(s.app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"]), json={})
        assert r.status_code == 204
        page = (await pending).json()
        assert time.monotonic() - t0 < 2.0
        assert page["sender"][0]["events"][0]["link"]["rel"] == "me"


async def test_disconnecting_client_releases_its_pget(server) -> None:
    s = _session(server)
    href = s.url(s.app["_links"]["events"]["href"])
    async with httpx.AsyncClient(headers=s.headers, timeout=30) as c:
        first = asyncio.create_task(c.get(href + "&priority=9"))
        await asyncio.sleep(0.3)
        first.cancel()  # the client goes away
    await asyncio.sleep(0.5)
    async with httpx.AsyncClient(headers=s.headers, timeout=30) as c:
        # a lower-priority newcomer is not refused: nothing is pending any more
        newcomer = asyncio.create_task(c.get(href + "&priority=0"))
        await asyncio.sleep(0.5)
        assert not newcomer.done()
        await c.post(s.url(s.app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"]), json={})
        r = await newcomer
        assert r.status_code == 200 and r.json()["sender"]


def test_aggregation_holds_medium_events_and_merges_updates(make_server) -> None:
    srv = make_server()  # default profile: aggregation on
    s = _session(srv, "lenea@contoso.com", "lene-secret")
    ch = s.events()
    ch.next_href += "&medium=5"
    s.make_me_available()
    t0 = time.monotonic()
    page = ch.poll()
    waited = time.monotonic() - t0
    assert 4.0 <= waited < 9.0, waited  # Medium events wait `medium` seconds (SPEC §8.5)
    assert [e["link"]["rel"] for b in page["sender"] for e in b["events"]] == [
        "me",
        "presence",
        "note",
        "location",
        "communication",
    ]
    me = s.get(s.app["_embedded"]["me"]["_links"]["self"]["href"]).json()
    for value in ("Busy", "DoNotDisturb", "BeRightBack"):
        assert s.post(me["_links"]["presence"]["href"], json={"availability": value}).status_code == 204
    page = ch.poll()
    # three `updated` events for the same presence were merged into the last one
    assert [(e["type"], e["link"]["rel"]) for b in page["sender"] for e in b["events"]] == [
        ("updated", "presence")
    ]
    assert s.get(me["_links"]["presence"]["href"]).json()["availability"] == "BeRightBack"
