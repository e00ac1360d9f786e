"""Over HTTP: a message answers the recipient's held P-GET in the message's own transaction."""

from __future__ import annotations

import asyncio

from tests.server.conftest import InProcess, InProcessFactory, connect_sara_and_lene, find_event
from tests.server.test_shared_rounds import units


def delivered(srv: InProcess) -> float:
    [metric] = srv.app.runtime.services.metrics.messages_delivered.collect()
    return next(s.value for s in metric.samples if s.name.endswith("_total"))


async def test_a_held_pget_is_answered_by_the_message_that_moved_it(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        sara, lene, send = await connect_sara_and_lene(srv)
        href = lene.link("events")
        while True:  # past what connecting queued, to a P-GET that waits
            task = asyncio.create_task(lene.get(href))
            await srv.until(lambda t=task: srv.held() == 1 or t.done())
            if not task.done():
                break
            page = (await task).json()
            href = page["_links"]["next"]["href"]
        before, counted = units(srv), delivered(srv)
        r = await sara.post(send, content=b"What's up?", headers={"Content-Type": "text/plain"})
        assert r.status_code == 201, r.text
        answer = await task
        assert answer.status_code == 200
        message = find_event(answer.json(), "message")
        assert message["_embedded"]["message"]["direction"] == "Incoming"
        assert units(srv) - before == 1  # the send; the recipient's round ran inside it
        assert delivered(srv) - counted == 1
        # Exactly once: a replay returns the same page, the next batch waits.
        assert (await lene.get(href)).json() == answer.json()
        nxt = asyncio.create_task(lene.get(answer.json()["_links"]["next"]["href"]))
        await srv.until(lambda: srv.held() == 1)
        assert not nxt.done()
        nxt.cancel()
        await asyncio.gather(nxt, return_exceptions=True)
