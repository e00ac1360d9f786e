"""P-GET rounds woken by one commit share one transaction, and each still gets its events once."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.server.conftest import LENE, SARA, AppSession, InProcess, InProcessFactory, find_event

WATCHERS = 24


def units(srv: InProcess) -> float:
    """Units of work run so far (the transaction histogram's count)."""
    metric = srv.app.runtime.services.metrics.db_seconds
    return next(s.value for s in metric.collect()[0].samples if s.name.endswith("_count"))


async def watch(srv: InProcess) -> tuple[AppSession, str]:
    """One of Lene's applications watching Sara's presence; returns it and its next P-GET href."""
    lene = await srv.sign_in(*LENE[::2])
    href = lene.link("people", "presenceSubscriptions")
    r = await lene.post(href, json={"duration": 30, "uris": [f"sip:{SARA[0]}"]})
    assert r.status_code == 201, r.text
    page = (await lene.get(lene.link("events"))).json()
    find_event(page, "contactPresence")  # the state at subscription time
    return lene, page["_links"]["next"]["href"]


def presence_events(page: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in page.get("sender", []) for e in b["events"] if e["link"]["rel"] == "contactPresence"]


async def test_one_change_wakes_every_watcher_in_one_shared_round(in_process: InProcessFactory) -> None:
    async with in_process(max_applications_per_user=WATCHERS + 1) as srv:
        sara = await srv.sign_in(*SARA[::2])
        assert (await sara.post(sara.link("me", "makeMeAvailable"), json={})).status_code == 204
        watchers = [await watch(srv) for _ in range(WATCHERS)]
        held = [asyncio.create_task(lene.get(href)) for lene, href in watchers]
        await srv.until(lambda: srv.held() == WATCHERS)
        before = units(srv)
        presence = sara.self_href + "/me/presence"
        assert (await sara.post(presence, json={"availability": "Busy"})).status_code == 204
        pages = [(await p).json() for p in held]
        # The change, then the rounds of all the woken P-GETs: far fewer units than one each.
        assert units(srv) - before <= 4
        for page, (lene, href) in zip(pages, watchers, strict=True):
            assert len(presence_events(page)) == 1
            # Exactly once: the next batch does not repeat it, and a replay returns it unchanged.
            assert (await lene.get(href)).json() == page
            again = asyncio.create_task(lene.get(page["_links"]["next"]["href"]))
            await srv.until(lambda: srv.held() >= 1)
            assert not again.done()
            again.cancel()
            await asyncio.gather(again, return_exceptions=True)
            await srv.until(lambda: srv.held() == 0)


async def test_a_replaced_pget_in_a_shared_round_fails_alone(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        sara = await srv.sign_in(*SARA[::2])
        assert (await sara.post(sara.link("me", "makeMeAvailable"), json={})).status_code == 204
        watchers = [await watch(srv) for _ in range(4)]
        held = [asyncio.create_task(lene.get(href)) for lene, href in watchers]
        await srv.until(lambda: srv.held() == 4)
        # A second P-GET on the first application replaces the held one (409 PGetReplaced).
        lene, href = watchers[0]
        second = asyncio.create_task(lene.get(href))
        replaced = await held[0]
        assert (replaced.status_code, replaced.json()["subcode"]) == (409, "PGetReplaced")
        await srv.until(lambda: srv.held() == 4)
        presence = sara.self_href + "/me/presence"
        assert (await sara.post(presence, json={"availability": "Away"})).status_code == 204
        for p in [second, *held[1:]]:
            r = await p
            assert r.status_code == 200 and len(presence_events(r.json())) == 1
