"""The per-node Notifier: version-gated wakes, timeouts, cancellation, and no leaked waiters.

Deadlines run on a ``ManualClock``: a test moves time with ``clock.advance`` instead of sleeping.
"""

from __future__ import annotations

import asyncio
import weakref

import pytest

from openucwa.bus.notifier import VERSION_MEMORY, Notifier
from tests.bus.waiting import wait
from tests.manual_clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def n(clock: ManualClock) -> Notifier:
    return Notifier(clock)


async def _registered(notifier: Notifier, count: int) -> None:
    """Yields to the loop until ``count`` waiters are registered (they register on their first step)."""
    async with asyncio.timeout(2):
        while True:  # polled: the notifier has no "someone registered" event, and needs none
            if notifier.waiting() == count:
                return
            await asyncio.sleep(0)


def _spawn(notifier: Notifier, app_id: str, after: int, within: float = 5.0) -> asyncio.Task[bool]:
    return asyncio.create_task(wait(notifier, app_id, after, within))


async def test_wait_returns_at_once_when_the_version_already_passed(n: Notifier, clock: ManualClock) -> None:
    n.notify("app", 5)
    async with asyncio.timeout(0.1):
        assert await wait(n, "app", 4, 10) is True
        assert await wait(n, "app", 0, 10) is True
    assert n.waiting() == 0


async def test_wait_on_the_current_version_does_not_return_at_once(n: Notifier, clock: ManualClock) -> None:
    n.notify("app", 5)
    waiter = _spawn(n, "app", after=5, within=0.05)
    await _registered(n, 1)  # 5 is not past 5: only a newer version wakes
    clock.advance(0.05)
    assert await waiter is False
    assert n.waiting() == 0


async def test_wait_returns_false_on_timeout(n: Notifier, clock: ManualClock) -> None:
    waiter = _spawn(n, "app", after=0, within=0.1)
    await _registered(n, 1)
    clock.advance(0.09)
    await asyncio.sleep(0)
    assert not waiter.done()  # not before its deadline
    clock.advance(0.01)
    assert await waiter is False
    assert n.waiting() == 0


@pytest.mark.parametrize("within", [0, -1.0])
async def test_wait_with_no_time_left_returns_false_without_registering(
    within: float, n: Notifier, clock: ManualClock
) -> None:
    assert await wait(n, "app", 0, within) is False
    assert n.waiting() == 0


async def test_notify_wakes_only_waiters_registered_with_an_older_version(
    n: Notifier, clock: ManualClock
) -> None:
    old = _spawn(n, "app", after=1)
    current = _spawn(n, "app", after=3)
    other_app = _spawn(n, "other", after=0)
    await _registered(n, 3)

    n.notify("app", 2)
    assert await asyncio.wait_for(old, 1) is True
    await asyncio.sleep(0)  # give any (wrongly) woken waiter its turn
    assert not current.done()  # registered past version 3: version 2 is old news to it
    assert not other_app.done()  # another application's move wakes nobody here
    assert n.waiting() == 2

    n.notify("app", 4)
    assert await asyncio.wait_for(current, 1) is True
    assert not other_app.done()
    other_app.cancel()
    await asyncio.gather(other_app, return_exceptions=True)
    assert n.waiting() == 0


async def test_notify_with_an_older_or_equal_version_is_ignored(n: Notifier, clock: ManualClock) -> None:
    n.notify("app", 7)
    waiter = _spawn(n, "app", after=7, within=0.3)
    await _registered(n, 1)
    n.notify("app", 7)  # a duplicate (e.g. the local notify and then the same wake via Redis)
    n.notify("app", 3)  # a late, reordered wake
    clock.advance(0.3)
    assert await waiter is False
    assert n.waiting() == 0


async def test_notify_all_wakes_everyone(n: Notifier, clock: ManualClock) -> None:
    n.notify("b", 10)
    tasks = [_spawn(n, "a", after=0), _spawn(n, "a", after=99), _spawn(n, "b", after=10), _spawn(n, "c", 5)]
    await _registered(n, len(tasks))
    n.notify_all()
    async with asyncio.timeout(1):
        assert await asyncio.gather(*tasks) == [True] * len(tasks)
    assert n.waiting() == 0


async def test_notify_all_with_nobody_waiting_is_harmless(n: Notifier, clock: ManualClock) -> None:
    n.notify_all()
    assert n.waiting() == 0
    assert await wait(n, "app", 0, 0) is False  # and it left no "already moved" memory behind


async def test_cancellation_removes_the_waiter(n: Notifier, clock: ManualClock) -> None:
    waiter = _spawn(n, "app", after=0, within=30)
    survivor = _spawn(n, "app", after=0, within=30)
    await _registered(n, 2)
    waiter.cancel()  # the client went away
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert n.waiting() == 1
    survivor.cancel()
    with pytest.raises(asyncio.CancelledError):
        await survivor
    assert n.waiting() == 0
    assert n._waiters == {}  # no empty per-application dict left behind either


async def test_cancelling_a_woken_waiter_before_it_runs_leaves_nothing(
    n: Notifier, clock: ManualClock
) -> None:
    waiter = _spawn(n, "app", after=0)
    await _registered(n, 1)
    n.notify("app", 1)
    waiter.cancel()  # woken and cancelled in the same loop iteration
    await asyncio.gather(waiter, return_exceptions=True)
    assert n.waiting() == 0
    assert n._waiters == {}


async def test_many_waiters_on_one_application_all_wake(n: Notifier, clock: ManualClock) -> None:
    tasks = [_spawn(n, "app", after=0) for _ in range(500)]
    await _registered(n, 500)
    n.notify("app", 1)
    async with asyncio.timeout(2):
        results = await asyncio.gather(*tasks)
    assert results == [True] * 500
    assert n.waiting() == 0
    assert n._waiters == {}


async def test_no_waiter_leak_after_timeouts(n: Notifier, clock: ManualClock) -> None:
    tasks = [_spawn(n, f"app-{i % 7}", after=i, within=0.05) for i in range(200)]
    await _registered(n, 200)
    clock.advance(0.05)
    results = await asyncio.gather(*tasks)
    assert results == [False] * 200
    assert n.waiting() == 0
    assert n._waiters == {}
    # the timed-out waiters are really gone: a later notify finds no stale future to set
    n.notify("app-0", 10_000)
    assert n.waiting() == 0


async def test_waiters_registering_and_leaving_concurrently_do_not_lose_each_other(
    n: Notifier, clock: ManualClock
) -> None:
    """A waiter leaving (timeout) while another one registers must not drop the newcomer."""
    leaving = _spawn(n, "app", after=0, within=0.05)
    await _registered(n, 1)
    clock.advance(0.04)
    staying = _spawn(n, "app", after=0, within=5)
    await _registered(n, 2)
    clock.advance(0.01)
    assert await leaving is False
    await _registered(n, 1)
    n.notify("app", 1)
    assert await asyncio.wait_for(staying, 1) is True
    assert n.waiting() == 0


async def test_forget_drops_the_version_memory(n: Notifier, clock: ManualClock) -> None:
    n.notify("app", 3)
    n.forget("app")
    assert await wait(n, "app", 1, 0) is False  # no longer "already past"
    n.notify("app", 1)  # versions start over for the application id
    assert await wait(n, "app", 0, 0) is True


async def test_deadlines_wake_in_order_with_false(n: Notifier, clock: ManualClock) -> None:
    fired: list[tuple[str, bool]] = []
    for name, within in (("late", 0.15), ("early", 0.05), ("middle", 0.1)):
        n.add("app", 0, within, lambda moved, name=name: fired.append((name, moved)))
    assert n.waiting() == 3
    clock.advance(0.1)
    assert fired == [("early", False), ("middle", False)]
    clock.advance(0.05)
    assert fired == [("early", False), ("middle", False), ("late", False)]
    assert n.waiting() == 0
    assert n._waiters == {}


async def test_add_refuses_when_the_version_already_passed(n: Notifier, clock: ManualClock) -> None:
    n.notify("app", 2)
    assert n.add("app", 1, 10, lambda moved: None) is None
    assert n.waiting() == 0


async def test_discarded_and_woken_waiters_release_their_callback(n: Notifier, clock: ManualClock) -> None:
    """The heap keeps stale entries for a while: they must not keep a request (its wake) alive."""

    class Wake:
        def __call__(self, moved: bool) -> None:
            pass

    gone, woken = Wake(), Wake()
    refs = [weakref.ref(gone), weakref.ref(woken)]
    w1 = n.add("a", 0, 60, gone)
    assert w1 is not None
    assert n.add("b", 0, 60, woken) is not None
    n.discard(w1)
    n.discard(w1)  # twice is harmless
    n.notify("b", 1)
    del gone, woken
    assert [r() for r in refs] == [None, None]
    assert n.waiting() == 0


async def test_stale_deadlines_are_compacted(n: Notifier, clock: ManualClock) -> None:
    for i in range(1000):
        w = n.add(f"app-{i}", 0, 60, lambda moved: None)
        assert w is not None
        n.discard(w)
    assert len(n._deadlines) <= 64
    fired: list[bool] = []
    keep = n.add("app", 0, 0.05, fired.append)
    assert keep is not None
    clock.advance(0.05)  # the timer still serves what is left
    assert fired == [False]
    assert n.waiting() == 0


async def test_versions_are_remembered_for_a_while_not_for_ever(n: Notifier, clock: ManualClock) -> None:
    """``add`` refuses a stale registration for at least VERSION_MEMORY seconds after the wake; a
    node that saw thousands of applications move keeps only those that moved lately."""
    for i in range(1000):
        n.notify(f"app{i}", 3)
    assert n.remembered() == 1000
    clock.advance(VERSION_MEMORY)
    n.notify("fresh", 1)  # a new generation begins; the last one is still consulted
    assert n.remembered() == 1001
    assert n.add("app7", 2, 10, lambda moved: None) is None  # 3 passed 2: read again
    n.notify("app7", 2)  # a late, reordered wake is still recognised as old
    assert n.add("app7", 2, 10, lambda moved: None) is None
    clock.advance(VERSION_MEMORY)
    n.notify("fresh", 2)
    assert n.remembered() == 1  # only "fresh" moved within the last generation
    waiter = n.add("app7", 2, 10, lambda moved: None)  # forgotten: it registers
    assert waiter is not None
    n.discard(waiter)
    assert n.waiting() == 0
