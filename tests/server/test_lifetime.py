"""Application lifetime (SPEC §7.5): idle expiry, tombstones, the transient-state reset, and a
held P-GET keeping its application alive, with time moved by hand instead of slept through."""

from __future__ import annotations

import asyncio

from .conftest import SARA, InProcessFactory

FAST = {"app_idle_timeout": 3, "transient_state_timeout": 1, "tombstone_lifetime": 2, "reaper_interval": 0.2}


async def test_idle_application_expires_then_disappears(in_process: InProcessFactory) -> None:
    async with in_process(**FAST) as srv:
        s = await srv.sign_in(*SARA[::2])
        await srv.reaper_pass(2.9)
        assert (await s.get(s.self_href)).status_code == 200  # not idle long enough yet
        await srv.reaper_pass(3.1)
        r = await s.get(s.self_href)
        assert (r.status_code, r.json()["code"], r.json()["subcode"]) == (
            410,
            "Gone",
            "InactiveApplicationExpired",
        )
        await srv.reaper_pass(2.5)
        r = await s.get(s.self_href)
        assert (r.status_code, r.json()["subcode"]) == (404, "ApplicationNotFound")


async def test_transient_reset_answers_resume_and_a_pending_pget_keeps_it_alive(
    in_process: InProcessFactory,
) -> None:
    async with in_process(**FAST) as srv:
        s = await srv.sign_in(*SARA[::2])
        events = s.link("events")
        assert (await s.post(s.link("me", "makeMeAvailable"), json={})).status_code == 204
        first = (await s.get(events)).json()
        assert first["sender"]
        await srv.reaper_pass(1.6)  # no P-GET pending for longer than the transient-state timeout
        page = (await s.get(first["_links"]["next"]["href"])).json()
        links = page["_links"]
        assert "sender" not in page
        assert links["resume"]["href"] == links["next"]["href"] == events.replace("ack=1", "ack=3")
        # a P-GET held open keeps the application alive past the idle timeout
        held = asyncio.create_task(s.get(links["next"]["href"] + "&timeout=180"))
        await srv.reaper_pass(4.0)
        assert not held.done()
        assert (await s.get(s.self_href)).status_code == 200
        assert (await s.delete(s.self_href)).status_code == 204
        assert (await held).status_code == 404
