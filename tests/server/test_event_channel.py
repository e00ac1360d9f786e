"""The event channel's held P-GETs (SPEC §8): replacement, wakes and aggregation windows, in
process, waiting on conditions (how many P-GETs the node holds) and moving time by hand."""

from __future__ import annotations

import asyncio
from typing import Any

from .conftest import SARA, InProcessFactory


async def test_ack_prunes_earlier_batches(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        await s.post(s.link("me", "makeMeAvailable"), json={})
        first_href = s.link("events")
        first = (await s.get(first_href)).json()
        second = asyncio.create_task(s.get(first["_links"]["next"]["href"]))  # ack=2 acknowledges 1
        await srv.until(lambda: srv.held() == 1)
        r = await s.get(first_href)  # batch 1 is gone: resync to the first unacknowledged one
        assert r.json() == {"_links": {"resync": {"href": first["_links"]["next"]["href"]}}}
        replaced = await second
        assert (replaced.status_code, replaced.json()["subcode"]) == (409, "PGetReplaced")


async def test_new_pget_replaces_the_pending_one(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        href = s.link("events")
        old = asyncio.create_task(s.get(href))
        await srv.until(lambda: srv.held() == 1)
        newer = asyncio.create_task(s.get(href + "&priority=0"))
        r_old = await old  # equal priority replaces: the pending one is answered 409
        assert (r_old.status_code, r_old.json()["subcode"]) == (409, "PGetReplaced")
        await srv.until(lambda: srv.held() == 1)
        high = asyncio.create_task(s.get(href + "&priority=5"))
        r_newer = await newer
        assert (r_newer.status_code, r_newer.json()["subcode"]) == (409, "PGetReplaced")
        await srv.until(lambda: srv.held() == 1)
        refused = await s.get(href + "&priority=1")  # lower than the pending one: refused itself
        assert (refused.status_code, refused.json()["subcode"]) == (409, "PGetReplaced")
        assert not high.done() and srv.held() == 1
        await s.delete(s.self_href)
        gone = await high
        assert (gone.status_code, gone.json()["subcode"]) == (404, "ApplicationNotFound")


async def test_pending_pget_is_woken_by_an_event_not_a_timer(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        pending = asyncio.create_task(s.get(s.link("events")))
        await srv.until(lambda: srv.held() == 1)
        pending_timers = srv.clock.pending()
        r = await s.post(s.link("me", "makeMeAvailable"), json={})
        assert r.status_code == 204
        page = (await pending).json()  # the clock never moved: the event woke it
        assert page["sender"][0]["events"][0]["link"]["rel"] == "me"
        assert srv.clock.pending() <= pending_timers


async def test_aggregation_holds_medium_events_and_merges_updates(in_process: InProcessFactory) -> None:
    async with in_process(event_aggregation=True) as srv:
        s = await srv.sign_in(*SARA[::2])
        await s.post(s.link("me", "makeMeAvailable"), json={})
        me = (await s.get(s.link("me", "self"))).json()
        page_task = asyncio.create_task(s.get(s.link("events") + "&medium=5"))
        await srv.until(lambda: srv.held() == 1)
        srv.clock.advance(4.9)
        await asyncio.sleep(0)
        assert not page_task.done()  # Medium events wait `medium` seconds (SPEC §8.5)
        srv.clock.advance(0.1)
        page = (await page_task).json()
        assert [e["link"]["rel"] for b in page["sender"] for e in b["events"]] == [
            "me",
            "presence",
            "note",
            "location",
            "communication",
        ]
        for value in ("Busy", "DoNotDisturb", "BeRightBack"):
            r = await s.post(me["_links"]["presence"]["href"], json={"availability": value})
            assert r.status_code == 204
        next_task = asyncio.create_task(s.get(page["_links"]["next"]["href"]))
        await srv.until(lambda: srv.held() == 1)
        srv.clock.advance(15)  # the low-priority window at most
        page = (await next_task).json()
        # three `updated` events for the same presence were merged into the last one
        assert [(e["type"], e["link"]["rel"]) for b in page["sender"] for e in b["events"]] == [
            ("updated", "presence")
        ]
        assert (await s.get(me["_links"]["presence"]["href"])).json()["availability"] == "BeRightBack"


def _awaiting(coro: Any) -> list[str]:
    """The chain of coroutines a task is suspended in, outermost first."""
    names = []
    while coro is not None and hasattr(coro, "cr_code"):
        names.append(coro.cr_code.co_qualname)
        coro = coro.cr_await
    return names


async def test_a_held_pget_keeps_no_middleware_router_or_exception_middleware_frame(
    in_process: InProcessFactory,
) -> None:
    """Held P-GETs are many and long: the event channel does Observe's and Guard's work in its own
    frame and skips the router's and ExceptionMiddleware's (bench/README.md, "Idle pending P-GETs")."""
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        pending = asyncio.create_task(s.get(s.link("events")))
        await srv.until(lambda: srv.held() == 1)
        chains = [_awaiting(t.get_coro()) for t in asyncio.all_tasks()]
        held = next(c for c in chains if "hold" in c)
        assert "EventChannelFirst._serve" in held, held
        layers = (
            "Starlette.",
            "Router.",
            "ExceptionMiddleware.",
            "Route.",
            "Observe.",
            "Cors.",
            "Guard.",
            "_Events.",
        )
        assert not [n for n in held if n.startswith(layers)], held
        await s.delete(s.self_href)
        assert (await pending).status_code == 404
