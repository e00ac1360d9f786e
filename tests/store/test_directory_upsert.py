"""The sync and sign-ins bring the same newcomer in at once (on PostgreSQL truly concurrently): one
account results, with its photo, and nobody gets an error. (Found by the full suite: the scheduled
sync at start-up met a first sign-in.)"""

from __future__ import annotations

import asyncio
import dataclasses

from openucwa.actions.directory import upsert_person
from openucwa.actions.services import Services
from openucwa.bus.local import LocalBus
from openucwa.bus.notifier import Notifier
from openucwa.config import Settings
from openucwa.directory.attributes import Person
from openucwa.store import SqlStore

PERSON = Person(
    dn="cn=toshm,ou=people,dc=contoso,dc=com",
    uri="toshm@contoso.com",
    name="Tosh Meston",
    email="toshm@contoso.com",
    title="Engineer",
    department=None,
    company=None,
    office=None,
    work_phone=None,
    upn="toshm@contoso.com",
    login="toshm",
    enabled=True,
    why_disabled=None,
    photo=b"\xff\xd8\xff\xe0photo",
    member_of=(),
)


async def test_concurrent_upserts_of_a_newcomer_make_one_account(store: SqlStore) -> None:
    notifier = Notifier()
    svc = Services(store=store, bus=LocalBus(notifier), notifier=notifier, settings=Settings())
    users = await asyncio.gather(*(upsert_person(svc, PERSON) for _ in range(8)))
    assert len({u.id for u in users}) == 1
    async with store.transaction() as tx:
        assert (await tx.get_user("toshm@contoso.com")) == users[0]
        assert (await tx.get_photo("toshm@contoso.com")) is not None
    changed = await upsert_person(svc, dataclasses.replace(PERSON, title="Principal"))
    assert changed.id == users[0].id and changed.title == "Principal"
