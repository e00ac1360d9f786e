"""sendMessage, delivery receipts and typing as use cases (SPEC §15)."""

from __future__ import annotations

import pytest

from openucwa.actions import delivery, invitations, messages
from openucwa.core import commands
from openucwa.core.conversation import Direction
from openucwa.core.errors import UcwaError
from openucwa.core.machines import IllegalTransition
from openucwa.core.machines.message import MessageStatus

from .conftest import LENE, TOSH, World, only, rels


async def _connected(world: World) -> tuple[str, str, str]:
    tosh, lene = await world.app(TOSH), await world.app(LENE)
    cmd = commands.start_messaging({"to": LENE}, sender=TOSH)
    await invitations.start_messaging(world.svc, tosh, TOSH, cmd)
    await invitations.accept(world.svc, lene, LENE, only(only(await world.views(lene)).invitations).id)
    await world.events(tosh)
    await world.events(lene)
    return tosh, lene, only(await world.views(tosh)).id


def _text(body: str) -> commands.SendMessage:
    return commands.send_message(body.encode(), "text/plain", None, {"operationId": "op1"}, max_bytes=1000)


async def _sent(world: World, conv: str, n: int) -> MessageStatus:
    async with world.svc.store.transaction() as tx:
        m = await tx.get_message(conv, n)
    assert m is not None and m.direction is Direction.OUTGOING
    return m.status


async def test_a_message_is_pending_until_delivered_then_succeeds_once(world: World) -> None:
    tosh, lene, conv = await _connected(world)
    href = await messages.send_message(world.svc, tosh, TOSH, conv, _text("What's up?"))
    assert href.endswith("/messaging/messages/1")
    assert await _sent(world, conv, 1) is MessageStatus.PENDING
    async with world.svc.store.transaction() as tx:
        [queued] = await tx.queued_events(lene)
    assert queued.receipt is not None and queued.receipt.n == 1 and queued.receipt.user == LENE
    await delivery.confirm(world.svc, [queued.receipt])
    assert await _sent(world, conv, 1) is MessageStatus.SUCCEEDED
    assert rels(await world.events(tosh)) == ["message completed Success"]
    await delivery.confirm(world.svc, [queued.receipt])  # a second delivery changes nothing
    assert await world.events(tosh) == []


async def test_an_unfetched_message_fails_for_the_sender(world: World) -> None:
    tosh, _lene, conv = await _connected(world)
    await messages.send_message(world.svc, tosh, TOSH, conv, _text("anyone?"))
    await delivery.expire_deliveries(world.svc)
    assert await _sent(world, conv, 1) is MessageStatus.PENDING  # not yet overdue
    world.clock.advance(world.svc.settings.message_delivery_timeout + 1)
    await delivery.expire_deliveries(world.svc)
    assert await _sent(world, conv, 1) is MessageStatus.FAILED
    assert rels(await world.events(tosh)) == ["message completed Failure"]


async def test_typing_is_announced_once_and_sending_clears_it(world: World) -> None:
    tosh, lene, conv = await _connected(world)
    await messages.set_typing(world.svc, tosh, TOSH, conv)
    await messages.set_typing(world.svc, tosh, TOSH, conv)
    assert rels(await world.events(lene)) == ["participant added"]
    await messages.send_message(world.svc, tosh, TOSH, conv, _text("done typing"))
    assert rels(await world.events(lene)) == ["participant deleted", "message completed Success"]


async def test_sending_needs_connected_messaging(world: World) -> None:
    tosh = await world.app(TOSH)
    await world.app(LENE)
    await invitations.start_messaging(
        world.svc, tosh, TOSH, commands.start_messaging({"to": LENE}, sender=TOSH)
    )
    conv = only(await world.views(tosh)).id
    with pytest.raises(IllegalTransition, match="Messaging is not connected"):
        await messages.send_message(world.svc, tosh, TOSH, conv, _text("too early"))
    with pytest.raises(UcwaError):
        await messages.set_typing(world.svc, tosh, TOSH, conv)
