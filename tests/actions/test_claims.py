"""A transaction that moves an application whose P-GET is parked on this node answers that P-GET
itself (``events.Claims``): in the same COMMIT, handed over only after it, handed back if it fails."""

from __future__ import annotations

import asyncio

import pytest

from openucwa.actions import events, messages
from openucwa.actions.parking import Parked
from openucwa.actions.services import unit
from openucwa.core import commands
from openucwa.core.events import Event, Priority
from openucwa.core.machines.message import MessageStatus
from openucwa.store.sqlite import SqliteStore

from .conftest import LENE, TOSH, World, rels
from .test_messages import _connected, _sent, _text


class Probe(Parked):
    """A parked P-GET that counts the times it was told to look again."""

    __slots__ = ("order", "wakes")

    def __init__(self, app_id: str, user: str, params: commands.PGet, pget_id: str, started: float) -> None:
        super().__init__(app_id, user, params, pget_id, started)
        self.wakes = 0
        self.order: list[str] = []

    def wake(self) -> None:
        self.wakes += 1
        if self.answer is not None:  # the held request takes it on its next turn
            asyncio.get_running_loop().call_soon(self._take)

    def _take(self) -> None:
        self.order.append("recipient")
        self.took()


async def _park(world: World, app_id: str, user: str) -> Probe:
    """A P-GET for the application's next batch, past its first round and waiting, as ``hold`` leaves one."""
    async with world.svc.store.transaction() as tx:
        app = await tx.get_application(app_id)
    assert app is not None
    params = commands.pget({"ack": str(app.channel.next)})
    probe = Probe(app_id, user, params, f"probe-{app_id}", world.clock())
    first = await events.pget_round(world.svc, app_id, user, params, probe.pget_id, probe.started_at, True)
    assert isinstance(first, events.Hold)
    world.svc.parked.park(probe)
    return probe


def _store(world: World) -> SqliteStore:
    assert isinstance(world.svc.store, SqliteStore)
    return world.svc.store


async def test_a_message_answers_the_recipients_parked_pget_in_its_own_commit(world: World) -> None:
    tosh, lene, conv = await _connected(world)
    probe = await _park(world, lene, LENE)
    commits = _store(world).commits
    await messages.send_message(world.svc, tosh, TOSH, conv, _text("What's up?"))
    probe.order.append("sender")
    assert probe.order == ["recipient", "sender"]  # the 201 waits for the recipient's answer
    assert _store(world).commits == commits + 1  # no round of its own for the recipient
    assert probe.answer is not None and probe.wakes == 1 and len(world.svc.parked) == 0
    assert b"What%27s+up%3F" in probe.answer.body  # the message, as its data URI
    assert (probe.answer.events, probe.answer.messages, probe.answer.unsettled) == (1, 1, ())
    # The batch was produced once: asking for it again replays the same bytes, nothing is queued.
    replay = await events.pget_round(world.svc, lene, LENE, probe.params, "another", world.clock(), True)
    assert isinstance(replay, events.Answer) and replay.body == probe.answer.body
    assert await world.events(lene) == []
    # The sender's message completed in that same transaction.
    assert await _sent(world, conv, 1) is MessageStatus.SUCCEEDED
    assert rels(await world.events(tosh)) == ["message completed Success"]


async def test_the_sender_parked_too_is_woken_not_claimed(world: World) -> None:
    """The recipient's answer must not wait for the sender's round: the sender runs its own."""
    tosh, lene, conv = await _connected(world)
    recipient, sender = await _park(world, lene, LENE), await _park(world, tosh, TOSH)
    await messages.send_message(world.svc, tosh, TOSH, conv, _text("hi"))
    assert recipient.answer is not None
    assert sender.answer is None and not sender.claimed
    assert len(world.svc.parked) == 1  # still parked: the bus's wake sends it to a round of its own


async def test_an_answer_is_handed_over_after_the_commit_and_back_if_the_transaction_fails(
    world: World,
) -> None:
    _tosh, lene, _conv = await _connected(world)
    probe = await _park(world, lene, LENE)
    ping = Event("conversation", "/c", "added", "ping", "/c/ping", Priority.HIGH)
    claims = events.Claims(world.svc)
    with pytest.raises(RuntimeError):
        async with unit(world.svc) as u:
            await u.emit(lene, [ping])
            await claims.answer(u)
            assert probe.claimed and probe.answer is None  # nothing before the COMMIT
            raise RuntimeError("the transaction fails after the claim")
    claims.release()
    assert (probe.claimed, probe.answer, probe.wakes) == (False, None, 1)
    # The claimed round was rolled back with the rest: the P-GET still owns the channel and the
    # batch was never produced, so its own next round waits for events as before.
    again = await events.pget_round(
        world.svc, lene, LENE, probe.params, probe.pget_id, probe.started_at, False
    )
    assert isinstance(again, events.Hold)
    assert await world.events(lene) == []


async def test_a_transaction_moving_many_applications_leaves_them_to_their_own_rounds(
    world: World,
) -> None:
    probes = []
    for i in range(events.CLAIM_MAX + 1):
        app_id = await world.app(LENE, endpoint=f"e{i}")
        await world.events(app_id)
        probes.append(await _park(world, app_id, LENE))
    ping = Event("conversation", "/c", "added", "ping", "/c/ping", Priority.HIGH)
    claims = events.Claims(world.svc)
    async with unit(world.svc) as u:
        for p in probes:
            await u.emit(p.app_id, [ping])
        await claims.answer(u)
    claims.deliver()
    assert all(not p.claimed and p.answer is None for p in probes)
    assert len(world.svc.parked) == len(probes)


async def test_a_request_gone_before_the_hand_over_is_not_waited_for(world: World) -> None:
    _tosh, lene, _conv = await _connected(world)
    probe = await _park(world, lene, LENE)
    ping = Event("conversation", "/c", "added", "ping", "/c/ping", Priority.HIGH)
    claims = events.Claims(world.svc)
    async with unit(world.svc) as u:
        await u.emit(lene, [ping])
        await claims.answer(u)
    probe.took()  # its client went away (the held request ended) before the COMMIT
    assert claims.deliver() == []  # nothing for a message to wait for
    assert probe.answer is not None  # the batch was produced: the client's next P-GET replays it
