"""The Bus contract, run against LocalBus and a RedisBus on a real Redis.

A "node" is one Notifier plus the bus that feeds it, as in one server process. Every Redis test
uses a channel of its own, so tests (and servers running meanwhile) never see each other's wakes.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from openucwa.bus.interface import Bus
from openucwa.bus.local import LocalBus
from openucwa.bus.notifier import Notifier
from openucwa.bus.redis import RedisBus
from tests.bus.waiting import wait
from tests.conftest import REDIS_URL, redis_unreachable

WAKE = 2.0  # seconds a wake may take to cross Redis on loopback


@dataclass
class Node:
    bus: Bus
    notifier: Notifier

    def wait(self, app_id: str, after: int, within: float = 10.0) -> asyncio.Task[bool]:
        return asyncio.create_task(wait(self.notifier, app_id, after, within))


NodeFactory = Callable[[], Awaitable[Node]]
_BARRIERS = itertools.count(1)


async def _echoes_in(node: Node) -> None:
    """Every wake published before this call has come back from the bus, if it echoes at all.

    Redis delivers a channel's messages in order, so a marker published straight to the channel
    (not through the bus, which would also notify locally at once) arrives after all of them.
    """
    client = getattr(node.bus, "_client", None)
    if client is None:  # the local bus notifies synchronously: nothing is on its way
        return
    n = next(_BARRIERS)
    marker = node.wait("barrier", after=n - 1)
    await asyncio.sleep(0)  # let the waiter register before the marker can arrive
    await client.publish(node.bus._channel, f"barrier:{n}")
    assert await asyncio.wait_for(marker, WAKE) is True


async def _registered(node: Node, count: int) -> None:
    async with asyncio.timeout(2):
        while True:  # polled: the notifier has no "someone registered" event, and needs none
            if node.notifier.waiting() == count:
                return
            await asyncio.sleep(0)


def _redis_or_skip() -> None:
    if reason := redis_unreachable():
        pytest.skip(reason)


@pytest.fixture
def client_name() -> str:
    """Tags this test's Redis connections so the test can kill exactly its own listener."""
    return f"openucwa-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def channel() -> str:
    return f"openucwa-test:{uuid.uuid4().hex}"


def new_bus(kind: str, notifier: Notifier, channel: str, client_name: str) -> Bus:
    if kind == "local":
        return LocalBus(notifier)
    sep = "&" if "?" in REDIS_URL else "?"
    return RedisBus(f"{REDIS_URL}{sep}client_name={client_name}", notifier, channel=channel)


@asynccontextmanager
async def _nodes(kind: str, channel: str, client_name: str) -> AsyncIterator[NodeFactory]:
    if kind == "redis":
        _redis_or_skip()
    started: list[Bus] = []

    async def factory() -> Node:
        notifier = Notifier()
        bus = new_bus(kind, notifier, channel, client_name)
        await bus.start()
        started.append(bus)
        return Node(bus, notifier)

    try:
        yield factory
    finally:
        for bus in started:
            await bus.close()


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_node(kind: str, channel: str, client_name: str) -> AsyncIterator[NodeFactory]:
    async with _nodes(kind, channel, client_name) as factory:
        yield factory


@pytest.fixture
async def redis_nodes(channel: str, client_name: str) -> AsyncIterator[NodeFactory]:
    """Only RedisBus nodes: for what LocalBus cannot do by design (several processes)."""
    async with _nodes("redis", channel, client_name) as factory:
        yield factory


@pytest.fixture
async def admin() -> AsyncIterator[aioredis.Redis]:
    _redis_or_skip()
    client = aioredis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def _kill(admin: aioredis.Redis, client_name: str, client_type: str = "pubsub") -> int:
    """CLIENT KILL TYPE <type>, restricted to this test's connections (never another test's or server's)."""
    killed = 0
    for info in await admin.client_list(_type=client_type):
        if info.get("name") == client_name:
            killed += int(await admin.execute_command("CLIENT", "KILL", "ID", info["id"]))
    return killed


# -- every bus -------------------------------------------------------------------------------------


async def test_publish_wakes_a_waiter_on_the_same_node(make_node: NodeFactory) -> None:
    node = await make_node()
    waiter = node.wait("app", after=0)
    await _registered(node, 1)
    await node.bus.publish("app", 1)
    assert await asyncio.wait_for(waiter, WAKE) is True
    assert node.notifier.waiting() == 0


async def test_publish_of_an_old_version_does_not_wake(make_node: NodeFactory) -> None:
    node = await make_node()
    waiter = node.wait("app", after=5)
    await _registered(node, 1)
    await node.bus.publish("app", 3)
    await _echoes_in(node)  # the old version came back from Redis too, and woke nobody
    assert not waiter.done()
    await node.bus.publish("app", 6)
    assert await asyncio.wait_for(waiter, WAKE) is True


async def test_publish_wakes_only_its_application(make_node: NodeFactory) -> None:
    node = await make_node()
    mine = node.wait("app-1", after=0)
    other = node.wait("app-2", after=0, within=0.5)
    await _registered(node, 2)
    await node.bus.publish("app-1", 1)
    assert await asyncio.wait_for(mine, WAKE) is True
    assert await other is False


async def test_a_version_published_before_waiting_is_seen_at_once(make_node: NodeFactory) -> None:
    """No wake can fall between "read the store" and "start waiting"."""
    node = await make_node()
    await node.bus.publish("app", 4)
    async with asyncio.timeout(0.2):
        assert await wait(node.notifier, "app", 3, 10) is True


async def test_close_is_clean(make_node: NodeFactory) -> None:
    node = await make_node()
    waiter = node.wait("app", after=0)
    await _registered(node, 1)
    await node.bus.publish("app", 1)
    assert await asyncio.wait_for(waiter, WAKE) is True
    await node.bus.close()
    await asyncio.sleep(0)
    gc.collect()  # an unclosed connection would warn now, inside this test (warnings are errors)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == [], others


async def test_close_twice_and_close_without_start_are_clean(
    make_node: NodeFactory, kind: str, channel: str, client_name: str
) -> None:
    node = await make_node()
    await node.bus.close()
    await node.bus.close()  # the fixture closes it a third time
    never_started = new_bus(kind, Notifier(), channel, client_name)
    await never_started.close()
    gc.collect()
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


# -- Redis: several nodes ----------------------------------------------------------------------------


async def test_publish_on_one_node_wakes_a_waiter_on_another(redis_nodes: NodeFactory) -> None:
    a, b = await redis_nodes(), await redis_nodes()
    on_a = a.wait("app", after=0)
    on_b = b.wait("app", after=0)
    await _registered(a, 1)
    await _registered(b, 1)
    await b.bus.publish("app", 1)
    assert await asyncio.wait_for(on_a, WAKE) is True  # crossed nodes through Redis
    assert await asyncio.wait_for(on_b, WAKE) is True  # and the publisher's own node woke too
    # the wake was only "app reached 1": a newer waiter on A still waits for version 2
    later = a.wait("app", after=1)
    await _registered(a, 1)
    await _echoes_in(a)  # nothing published so far is still on its way to A
    assert not later.done()
    await b.bus.publish("app", 2)
    assert await asyncio.wait_for(later, WAKE) is True


async def test_nodes_on_another_channel_are_not_woken(redis_nodes: NodeFactory, client_name: str) -> None:
    a = await redis_nodes()
    async with _nodes("redis", f"openucwa-test:{uuid.uuid4().hex}", client_name) as elsewhere:
        stranger = await elsewhere()
        waiter = stranger.wait("app", after=0, within=0.5)
        await _registered(stranger, 1)
        await a.bus.publish("app", 1)
        assert await waiter is False


async def test_every_local_waiter_is_woken_after_a_reconnect(
    redis_nodes: NodeFactory,
    admin: aioredis.Redis,
    channel: str,
    client_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While the listener was away, wakes may have been lost: everyone must re-read the store."""
    a, b = await redis_nodes(), await redis_nodes()
    waiters = [a.wait("app-1", after=0), a.wait("app-1", after=41), a.wait("app-2", after=7)]
    await _registered(a, 3)
    await _registered(b, 0)
    caplog.set_level(logging.WARNING, logger="openucwa.bus.redis")

    assert await _kill(admin, client_name) == 2  # both nodes' listeners
    async with asyncio.timeout(5):
        assert await asyncio.gather(*waiters) == [True, True, True]
    assert a.notifier.waiting() == 0
    assert "redis listener disconnected" in caplog.text

    # and after the reconnect the nodes hear each other again
    async with asyncio.timeout(5):
        while True:
            if (await admin.pubsub_numsub(channel))[0][1] == 2:
                break
            await asyncio.sleep(0.05)
    again = a.wait("app-3", after=0)
    await _registered(a, 1)
    await b.bus.publish("app-3", 1)
    assert await asyncio.wait_for(again, WAKE) is True


async def test_publish_survives_a_dropped_connection(
    redis_nodes: NodeFactory, admin: aioredis.Redis, client_name: str
) -> None:
    """A killed publishing connection is not an error for the publisher: the next publish still lands."""
    a, b = await redis_nodes(), await redis_nodes()
    await b.bus.publish("warm-up", 1)  # the publishing connection exists only after a publish
    assert await _kill(admin, client_name, "normal") >= 1
    waiter = a.wait("app", after=0)
    await _registered(a, 1)
    await b.bus.publish("app", 1)
    try:
        assert await asyncio.wait_for(waiter, WAKE) is True
    except TimeoutError:
        pytest.fail(
            "node A was never woken: the first publish after Redis dropped node B's idle publishing"
            " connection was lost (logged 'redis publish failed'), so A's P-GETs wait for their deadline"
        )


async def test_wakes_filed_together_leave_as_one_message(redis_nodes: NodeFactory, channel: str) -> None:
    """A unit of work that moved many applications costs one PUBLISH, not one per application."""
    a, b = await redis_nodes(), await redis_nodes()
    listener = aioredis.from_url(REDIS_URL)
    pubsub = listener.pubsub()
    await pubsub.subscribe(channel)
    try:
        waiters = [b.wait(f"app-{i}", after=0) for i in range(50)]
        await _registered(b, 50)
        for i in range(50):
            await a.bus.publish(f"app-{i}", 1)
        async with asyncio.timeout(WAKE):
            assert await asyncio.gather(*waiters) == [True] * 50
        await _echoes_in(a)  # everything a published has reached Redis's subscribers
        messages = []
        while (m := await pubsub.get_message(timeout=0.2)) is not None:
            if m["type"] == "message" and not m["data"].startswith(b"barrier:"):
                messages.append(m["data"].decode())
        assert len(messages) == 1, messages
        assert sorted(messages[0].split("|", 1)[1].split()) == sorted(f"app-{i}:1" for i in range(50))
    finally:
        await pubsub.aclose()
        await listener.aclose()


class CountingNotifier(Notifier):
    def __init__(self) -> None:
        super().__init__()
        self.notified: list[tuple[str, int]] = []

    def notify(self, app_id: str, version: int) -> None:
        self.notified.append((app_id, version))
        super().notify(app_id, version)


async def test_a_node_does_not_notify_twice_for_its_own_wakes(channel: str, client_name: str) -> None:
    """Its waiters were notified when it published: its own batch coming back from Redis is skipped."""
    _redis_or_skip()
    notifier = CountingNotifier()
    bus = new_bus("redis", notifier, channel, client_name)
    await bus.start()
    try:
        node = Node(bus, notifier)
        await bus.publish("app", 1)
        await _echoes_in(node)
        assert [n for n in notifier.notified if n[0] == "app"] == [("app", 1)]
    finally:
        await bus.close()
