"""Acknowledged batches: never served again, deleted a few at a time (``events.PRUNE_EVERY``)."""

from __future__ import annotations

from openucwa.actions import events
from openucwa.actions.services import unit
from openucwa.core import commands
from openucwa.core.events import Event, Priority

from .conftest import LENE, World

PING = Event("conversation", "/c", "added", "ping", "/c/ping", Priority.HIGH)


async def _round(world: World, app_id: str, ack: int) -> events.Answer | events.Hold:
    params = commands.pget({"ack": str(ack)})
    return await events.pget_round(world.svc, app_id, LENE, params, f"p{ack}", world.clock(), True)


async def _kept(world: World, app_id: str, upto: int) -> list[int]:
    async with world.svc.store.transaction() as tx:
        return [n for n in range(1, upto) if await tx.get_batch(app_id, n) is not None]


async def test_acknowledged_batches_are_resynced_at_once_and_deleted_in_eights(world: World) -> None:
    app_id = await world.app(LENE)
    await world.events(app_id)
    async with world.svc.store.transaction() as tx:
        app = await tx.get_application(app_id)
    assert app is not None
    first = app.channel.next
    for n in range(first, first + 2 * events.PRUNE_EVERY + 1):
        async with unit(world.svc) as u:
            await u.emit(app_id, [PING])
        produced = await _round(world, app_id, n)  # acknowledges n - 1, then produces n
        assert isinstance(produced, events.Answer)
        lowest = n
        kept = await _kept(world, app_id, n)
        # Below the last multiple of PRUNE_EVERY that ``lowest`` passed, nothing is kept.
        assert kept == list(range(max(first, lowest // events.PRUNE_EVERY * events.PRUNE_EVERY), n))
        if kept and kept[0] < lowest:  # still stored, but acknowledged: a resync, never a replay
            again = await _round(world, app_id, kept[0])
            assert isinstance(again, events.Answer) and b'"resync"' in again.body
