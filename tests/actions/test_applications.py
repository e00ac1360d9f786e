"""Creating and reading an application with its owner's record in one unit of work."""

from __future__ import annotations

import pytest

from openucwa.actions import applications
from openucwa.core import commands, errors
from openucwa.core.errors import UcwaError

from .conftest import LENE, TOSH, World


def _create(endpoint: str = "e1", agent: str = "tests") -> commands.CreateApplication:
    return commands.create_application({"userAgent": agent, "endpointId": endpoint, "culture": "en-US"})


async def test_create_again_returns_the_same_application_and_its_owner(world: World) -> None:
    first, owner, is_new = await applications.create(world.svc, TOSH, _create())
    assert is_new and owner.uri == TOSH and owner.name == "Tosh Meston"
    world.clock.advance(10)  # past the touch interval: coming back counts as activity
    again, owner_again, is_new_again = await applications.create(world.svc, TOSH, _create())
    assert not is_new_again and again.id == first.id and owner_again == owner
    app, user = await applications.get_with_owner(world.svc, first.id, TOSH)
    assert app.id == first.id and user == owner
    assert app.last_request_at == world.clock() != first.last_request_at


async def test_another_endpoint_gets_another_application(world: World) -> None:
    first, _, _ = await applications.create(world.svc, TOSH, _create("e1"))
    second, _, is_new = await applications.create(world.svc, TOSH, _create("e2"))
    other, _, _ = await applications.create(world.svc, LENE, _create("e1"))
    assert is_new and len({first.id, second.id, other.id}) == 3


async def test_a_different_client_on_the_endpoint_replaces_the_old_one(world: World) -> None:
    first, _, _ = await applications.create(world.svc, TOSH, _create(agent="old"))
    second, _, is_new = await applications.create(world.svc, TOSH, _create(agent="new"))
    assert is_new and second.id != first.id
    with pytest.raises(UcwaError) as gone:
        await applications.get_with_owner(world.svc, first.id, TOSH)
    assert gone.value.kind is errors.APPLICATION_NOT_FOUND


async def test_someone_elses_application_reads_as_missing(world: World) -> None:
    app, _, _ = await applications.create(world.svc, TOSH, _create())
    with pytest.raises(UcwaError) as refused:
        await applications.get_with_owner(world.svc, app.id, LENE)
    assert refused.value.kind is errors.APPLICATION_NOT_FOUND


async def test_a_removed_user_whose_token_is_still_cached_is_refused(world: World) -> None:
    app, _, _ = await applications.create(world.svc, TOSH, _create())
    async with world.svc.store.transaction() as tx:  # the row alone, as a race with removal leaves it
        assert await tx.remove_user(TOSH)
    for attempt in (
        applications.create(world.svc, TOSH, _create("e2")),
        applications.get_with_owner(world.svc, app.id, TOSH),
    ):
        with pytest.raises(UcwaError) as refused:
            await attempt
        assert refused.value.kind is errors.FORBIDDEN
