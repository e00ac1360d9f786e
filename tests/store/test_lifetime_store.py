"""``Tx.applications_to_review``: the reaper's filter must miss no application that
``core.lifetime.verdict`` would act on, on every backend (see conftest ``store``)."""

from __future__ import annotations

import itertools

from openucwa.core.lifetime import Timers, Verdict, verdict
from openucwa.core.models import Application, AppStatus
from openucwa.store import SqlStore
from tests.store.test_contract import NOW, app, seed

TIMERS = Timers(idle=900, transient=300, tombstone=3600)
# Ages in seconds before NOW, a quarter second off every timer so no case sits on a boundary.
AGES = (None, 10.25, 400.25, 1000.25, 4000.25)


def every_case() -> list[Application]:
    cases = []
    combos = itertools.product(
        (AppStatus.ACTIVE, AppStatus.EXPIRED),
        (False, True),  # used_channel
        (False, True),  # resume_pending
        (None, "node-1/req-1"),  # pget_owner
        (None, -5.0, 5.0),  # lease ends this far from NOW
        AGES,  # pget_released_at
        AGES[1:],  # last_request_at
        AGES,  # ended_at
    )
    for n, (status, used, resume, owner, lease, released, last, ended) in enumerate(combos):
        if (status == AppStatus.ACTIVE) != (ended is None):
            continue
        cases.append(
            app(
                f"a{n:05d}",
                endpoint_id=f"ep-{n}",
                status=status,
                used_channel=used,
                resume_pending=resume,
                pget_owner=owner,
                pget_lease_until=None if lease is None else NOW + lease,
                pget_released_at=None if released is None else NOW - released,
                last_request_at=NOW - last,
                ended_at=None if ended is None else NOW - ended,
            )
        )
    return cases


async def test_exactly_the_applications_the_reaper_acts_on(store: SqlStore) -> None:
    cases = every_case()
    await seed(store, *cases)
    async with store.transaction() as tx:
        found = await tx.applications_to_review(NOW, TIMERS)
    expected = sorted(a.id for a in cases if verdict(a, NOW, TIMERS) is not Verdict.KEEP)
    assert [a.id for a in found] == expected
    # every kind of verdict is among the cases, and the rows come back whole
    assert {verdict(a, NOW, TIMERS) for a in found} == {Verdict.RESET, Verdict.EXPIRE, Verdict.PURGE}
    by_id = {a.id: a for a in cases}
    assert all(a == by_id[a.id] for a in found)
    assert len(found) < len(cases)
