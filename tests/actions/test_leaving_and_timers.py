"""Leaving (two-party and conference) and the conversation timers, with time moved by hand."""

from __future__ import annotations

from openucwa.actions import invitations, leaving, messages, timers
from openucwa.core import commands
from openucwa.core.machines.conversation import ConversationState as C

from .conftest import LENE, SARA, TOSH, World, only, rels


async def _accept(world: World, app: str, user: str) -> None:
    await invitations.accept(world.svc, app, user, only(only(await world.views(app)).invitations).id)


async def test_leaving_a_two_party_conversation_ends_it_for_both(world: World) -> None:
    tosh, lene = await world.app(TOSH), await world.app(LENE)
    await invitations.start_messaging(
        world.svc, tosh, TOSH, commands.start_messaging({"to": LENE}, sender=TOSH)
    )
    await _accept(world, lene, LENE)
    await world.events(lene)
    await leaving.stop(world.svc, tosh, TOSH, only(await world.views(tosh)).id)
    assert await world.views(tosh) == [] and await world.views(lene) == []
    assert rels(await world.events(lene))[-2:] == ["conversation updated", "conversation deleted"]


async def test_a_conference_goes_on_without_the_leaver(world: World) -> None:
    tosh, lene = await world.app(TOSH), await world.app(LENE)
    await invitations.start_messaging(
        world.svc, tosh, TOSH, commands.start_messaging({"to": LENE}, sender=TOSH)
    )
    await _accept(world, lene, LENE)
    sara = await world.app(SARA)
    conv = only(await world.views(tosh)).id
    await invitations.add_participant(
        world.svc, tosh, TOSH, commands.add_participant({"conversation": conv, "to": SARA}, sender=TOSH)
    )
    await _accept(world, sara, SARA)
    await world.events(lene)
    await leaving.stop(world.svc, sara, SARA, only(await world.views(sara)).id)
    left = only(await world.views(lene))
    assert left.state is C.CONFERENCED and left.remote == [TOSH]
    assert rels(await world.events(lene)) == ["participantMessaging deleted", "participant deleted"]


async def test_an_unanswered_invitation_times_out_on_both_sides(world: World) -> None:
    tosh, lene = await world.app(TOSH), await world.app(LENE)
    await invitations.start_messaging(
        world.svc, tosh, TOSH, commands.start_messaging({"to": LENE}, sender=TOSH)
    )
    await timers.tick(world.svc)
    assert len(await world.views(lene)) == 1  # not yet due
    world.clock.advance(world.svc.settings.invitation_timeout)
    await timers.tick(world.svc)
    assert await world.views(tosh) == [] and await world.views(lene) == []
    assert "messagingInvitation completed Failure" in rels(await world.events(tosh))
    assert "messagingInvitation completed Failure" in rels(await world.events(lene))


async def test_typing_expires_after_its_timeout(world: World) -> None:
    tosh, lene = await world.app(TOSH), await world.app(LENE)
    await invitations.start_messaging(
        world.svc, tosh, TOSH, commands.start_messaging({"to": LENE}, sender=TOSH)
    )
    await _accept(world, lene, LENE)
    await world.events(lene)
    await messages.set_typing(world.svc, tosh, TOSH, only(await world.views(tosh)).id)
    assert rels(await world.events(lene)) == ["participant added"]
    world.clock.advance(world.svc.settings.typing_timeout - 0.5)
    await timers.tick(world.svc)
    assert await world.events(lene) == []
    world.clock.advance(1.0)
    await timers.tick(world.svc)
    assert rels(await world.events(lene)) == ["participant deleted"]
    assert only(await world.views(lene)).typing == {}
