"""startMessaging, accept, decline, cancel and addParticipant as use cases (SPEC §16–§18)."""

from __future__ import annotations

import pytest

from openucwa.actions import invitations, leaving
from openucwa.core import commands, errors
from openucwa.core.errors import UcwaError
from openucwa.core.machines.conversation import ConversationState as C
from openucwa.core.machines.invitation import InvitationState as I

from .conftest import LENE, SARA, TOSH, World, only, rels


async def _invite(world: World, to: str = LENE, **extra: object) -> tuple[str, str, str]:
    tosh, lene = await world.app(TOSH), await world.app(LENE)
    cmd = commands.start_messaging({"to": f"sip:{to}", **extra}, sender=TOSH)
    href = await invitations.start_messaging(world.svc, tosh, TOSH, cmd)
    return tosh, lene, href


async def test_start_messaging_reaches_the_invitee(world: World) -> None:
    tosh, lene, href = await _invite(world)
    assert "/communication/messagingInvitations/" in href
    assert rels(await world.events(tosh))[-4:] == [
        "messagingInvitation started",
        "conversation added",
        "localParticipant added",
        "messaging updated",
    ]
    assert rels(await world.events(lene))[-4:] == [
        "messagingInvitation started",
        "conversation added",
        "localParticipant added",
        "participant added",
    ]
    incoming = only(await world.views(lene))
    assert incoming.state is C.INCOMING and only(incoming.invitations).state is I.CONNECTING


async def test_accept_connects_both_sides_and_a_second_accept_conflicts(world: World) -> None:
    tosh, lene, _ = await _invite(world, message="data:text/plain,hello")
    await world.events(tosh)
    await world.events(lene)
    inv = only(only(await world.views(lene)).invitations)
    await invitations.accept(world.svc, lene, LENE, inv.id)
    mine, theirs = only(await world.views(lene)), only(await world.views(tosh))
    assert (mine.state, theirs.state) == (C.CONNECTED, C.CONNECTED)
    assert mine.remote_messaging == [TOSH] and theirs.remote == [LENE]
    assert rels(await world.events(lene))[-2:] == [
        "messagingInvitation completed Success",
        "message completed Success",
    ]
    assert rels(await world.events(tosh))[-1] == "messagingInvitation completed Success"
    with pytest.raises(UcwaError) as caught:
        await invitations.accept(world.svc, lene, LENE, inv.id)
    assert caught.value.kind is errors.NOT_FOUND or caught.value.kind is errors.CONFLICT


async def test_decline_fails_the_inviter_with_the_reason(world: World) -> None:
    tosh, lene, _ = await _invite(world)
    await world.events(tosh)
    inv = only(only(await world.views(lene)).invitations)
    await invitations.decline(world.svc, lene, LENE, inv.id, commands.decline({}))
    assert await world.views(lene) == [] and await world.views(tosh) == []
    assert "messagingInvitation completed Failure" in rels(await world.events(tosh))


async def test_unknown_and_unreachable_invitees_fail_at_once(world: World) -> None:
    tosh = await world.app(TOSH)
    for target in ("nobody@contoso.com", SARA):  # Sara exists but has no application
        cmd = commands.start_messaging({"to": target}, sender=TOSH)
        await invitations.start_messaging(world.svc, tosh, TOSH, cmd)
        assert rels(await world.events(tosh))[-1] == "conversation deleted"
    assert await world.views(tosh) == []


async def test_stop_before_an_answer_cancels_for_every_device(world: World) -> None:
    tosh, lene, _ = await _invite(world)
    lene2 = await world.app(LENE, endpoint="e2")
    conv = only(await world.views(tosh))
    await world.events(lene)
    await leaving.stop(world.svc, tosh, TOSH, conv.id)
    assert await world.views(lene) == [] and await world.views(lene2) == []
    assert "messagingInvitation completed Failure" in rels(await world.events(lene))


async def test_add_participant_makes_a_conference_that_the_invitee_joins(world: World) -> None:
    tosh, lene, _ = await _invite(world)
    await invitations.accept(world.svc, lene, LENE, only(only(await world.views(lene)).invitations).id)
    sara = await world.app(SARA)
    conv = only(await world.views(tosh))
    cmd = commands.add_participant({"conversation": conv.id, "to": SARA}, sender=TOSH)
    href = await invitations.add_participant(world.svc, tosh, TOSH, cmd)
    assert "/participantInvitations/" in href
    assert only(await world.views(lene)).state is C.CONFERENCED
    await invitations.accept(world.svc, sara, SARA, only(only(await world.views(sara)).invitations).id)
    joined = only(await world.views(sara))
    assert joined.state is C.CONFERENCED and sorted(joined.remote_messaging) == [LENE, TOSH]
    host = only(await world.views(tosh))
    assert sorted(host.remote) == [LENE, SARA]
    assert host.invitations[-1].state is I.CONNECTED
    with pytest.raises(UcwaError) as caught:
        await invitations.add_participant(world.svc, tosh, TOSH, cmd)
    assert caught.value.parameters == {"to": "AlreadyParticipant"}
