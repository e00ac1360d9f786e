"""Joined writes: a response's head and body leave in one write, in order, without waiting a turn."""

from __future__ import annotations

import asyncio
from typing import Any

from openucwa.server.protocol import _JoinedWrites


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8080) if name == "sockname" else default


async def test_writes_of_one_turn_leave_together_and_in_order() -> None:
    raw = Recorder()
    t = _JoinedWrites(raw, asyncio.get_running_loop())
    t.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    t.write(memoryview(b"{}"))
    assert raw.writes == []  # not yet: the rest of this turn may add more
    await asyncio.sleep(0)
    assert raw.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    t.write(b"next")
    await asyncio.sleep(0)
    assert raw.writes[1:] == [b"next"]


async def test_close_sends_what_is_pending_first_and_other_calls_pass_through() -> None:
    raw = Recorder()
    t = _JoinedWrites(raw, asyncio.get_running_loop())
    t.write(b"bye")
    t.close()
    assert raw.writes == [b"bye"] and raw.closed
    await asyncio.sleep(0)  # the scheduled flush finds nothing left
    assert raw.writes == [b"bye"]
    assert t.get_extra_info("sockname") == ("127.0.0.1", 8080)


async def test_lazy_event_behaves_like_an_event() -> None:
    from openucwa.server.protocol import _LazyEvent

    ev = _LazyEvent()
    assert not ev.is_set()
    waiter = asyncio.ensure_future(ev.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    ev.set()
    assert await waiter is True
    ev.clear()
    assert not ev.is_set()
    ev.set()
    assert await ev.wait() is True  # set already: returns at once


async def test_lazy_event_wakes_every_waiter_and_forgets_cancelled_ones() -> None:
    from openucwa.server.protocol import _LazyEvent

    ev = _LazyEvent()
    first = asyncio.ensure_future(ev.wait())
    second = asyncio.ensure_future(ev.wait())
    gone = asyncio.ensure_future(ev.wait())
    await asyncio.sleep(0)
    gone.cancel()  # as a held P-GET's receive() is cancelled when its round ends
    await asyncio.sleep(0)
    assert len(ev._waiters) == 2
    ev.set()
    assert await first is True and await second is True
    assert gone.cancelled() and len(ev._waiters) == 0


def test_lazy_pipeline_is_a_fifo_from_the_left() -> None:
    from openucwa.server.protocol import _LazyPipeline

    p = _LazyPipeline()
    assert not p and len(p) == 0
    p.appendleft("first")
    p.appendleft("second")
    assert p and len(p) == 2
    assert p.pop() == "first" and p.pop() == "second"
    assert not p
    try:
        p.pop()
    except IndexError:
        pass
    else:
        raise AssertionError("pop from an empty pipeline must raise")
