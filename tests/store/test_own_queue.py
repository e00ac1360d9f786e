"""A unit that queues events for an application and then produces that application's batch itself
(a message's unit answering the recipient's parked P-GET) reads the queue it just wrote, on both
backends. On PostgreSQL, when the queue was known empty before, that queue is the unit's own
events not sent yet: read without a statement, never inserted if the batch takes them all."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from openucwa.core.events import Receipt
from openucwa.store import DuplicateError, SqlStore
from openucwa.store.postgres import PgStore

from .test_contract import NOW, app, event, seed

RECEIPT = Receipt(session="s1", conv="c1", n=7, user="toshm@contoso.com")


async def _known_empty(store: SqlStore) -> None:
    """A round found app1's queue empty under its lock, and committed: the store may remember it."""
    async with store.transaction() as tx:
        assert await tx.get_application("app1", for_update=True) is not None
        assert await tx.queued_events("app1") == []


def _bodies(queued: list[Any]) -> list[Any]:
    return [(q.body, q.receipt, q.enqueued_at) for q in queued]


async def test_a_batch_takes_part_of_the_units_own_events_and_the_rest_stay_queued(store: SqlStore) -> None:
    await seed(store, app())
    await _known_empty(store)
    e1, e2, e3 = event(1), dataclasses.replace(event(2), receipt=RECEIPT), event(3)
    async with store.transaction() as tx:
        assert await tx.append_events("app1", [e1, e2, e3], NOW) == 1
        got = await tx.get_application("app1", for_update=True)
        assert got is not None and got.version == 1
        queued = await tx.queued_events("app1")
        assert _bodies(queued) == [(e1.wire(), None, NOW), (e2.wire(), RECEIPT, NOW), (e3.wire(), None, NOW)]
        assert [q.position for q in queued] == sorted(q.position for q in queued)
        await tx.store_batch("app1", 1, b"one", [q.position for q in queued[:2]])
        assert _bodies(await tx.queued_events("app1")) == [(e3.wire(), None, NOW)]
        await tx.update_application("app1", next_batch=2)
        got = await tx.get_application("app1", for_update=True)
        assert got is not None and (got.next_batch, got.version) == (2, 1)
    async with store.transaction() as tx:
        assert await tx.get_batch("app1", 1) == b"one"
        queued = await tx.queued_events("app1")
        assert _bodies(queued) == [(e3.wire(), None, NOW)]
        await tx.store_batch("app1", 2, b"two", [q.position for q in queued])
    async with store.transaction() as tx:
        assert await tx.queued_events("app1") == []
        got = await tx.get_application("app1")
        assert got is not None and (got.next_batch, got.version) == (2, 1)


async def test_events_queued_before_the_unit_come_first(store: SqlStore) -> None:
    """Not known empty: what another unit queued is read from the table, then the unit's own (and
    the same once a later statement carried the unit's own to the table)."""
    await seed(store, app())
    await _known_empty(store)
    async with store.transaction() as tx:
        await tx.append_events("app1", [event(1)], NOW)
    async with store.transaction() as tx:
        await tx.append_events("app1", [event(2)], NOW)
        assert await tx.get_application("app1", for_update=True) is not None
        queued = await tx.queued_events("app1")
        assert [q.body for q in queued] == [event(1).wire(), event(2).wire()]
        await tx.store_batch("app1", 1, b"one", [queued[0].position])
    async with store.transaction() as tx:
        queued = await tx.queued_events("app1")
        assert [q.body for q in queued] == [event(2).wire()]
        await tx.store_batch("app1", 2, b"two", [q.position for q in queued])
    await _known_empty(store)
    async with store.transaction() as tx:
        await tx.append_events("app1", [event(3)], NOW)
        await tx.append_events("app1", [event(4)], NOW)  # its bump carries event 3 to the table
        assert [q.body for q in await tx.queued_events("app1")] == [event(3).wire(), event(4).wire()]


async def test_a_batch_that_exists_leaves_the_units_events_queued(store: SqlStore) -> None:
    """A unit that goes on after DuplicateError (none does today) still queues what it queued."""
    await seed(store, app())
    async with store.transaction() as tx:
        await tx.store_batch("app1", 1, b"one", [])
    await _known_empty(store)
    async with store.transaction() as tx:
        await tx.append_events("app1", [event(1), event(2)], NOW)
        queued = await tx.queued_events("app1")
        with pytest.raises(DuplicateError):
            await tx.store_batch("app1", 1, b"again", [q.position for q in queued])
    async with store.transaction() as tx:
        assert [q.body for q in await tx.queued_events("app1")] == [event(1).wire(), event(2).wire()]
        assert await tx.get_batch("app1", 1) == b"one"


async def test_postgres_a_message_answering_a_parked_pget_sends_its_events_nowhere(store: SqlStore) -> None:
    """The recipient's queue was known empty: bump (the row comes back with it), batch, and the
    closing message; no lock read, no queue read, no insert, no delete. The next unit then knows
    the queue empty again and does not read it."""
    if not isinstance(store, PgStore):
        pytest.skip("PostgreSQL only")
    await seed(store, app())
    sent: list[str] = []

    def log(record: Any) -> None:
        sent.append(record.query)

    for number in (1, 2):  # the first also has asyncpg learn the array types, once per connection
        await _known_empty(store)
        sent.clear()
        async with store.transaction() as tx:
            tx._raw.add_query_logger(log)  # type: ignore[attr-defined]
            await tx.append_events("app1", [event(number)], NOW)
            assert await tx.get_application("app1", for_update=True) is not None
            queued = await tx.queued_events("app1")
            await tx.store_batch("app1", number, b"[]", [q.position for q in queued])
            await tx.update_application("app1", next_batch=number + 1)
        async with store.transaction() as tx:
            assert await tx.get_application("app1", for_update=True) is not None
            assert await tx.queued_events("app1") == []
            tx._raw.remove_query_logger(log)  # type: ignore[attr-defined]
    assert [q.split()[0] for q in sent] == ["UPDATE", "WITH", "EXECUTE", "SELECT"]
    assert "people/c2" not in " ".join(sent)  # the event went nowhere: not with COMMIT either
    async with store.transaction() as tx:
        assert await tx.get_batch("app1", 2) == b"[]"
        assert (await tx.get_application("app1")).next_batch == 3  # type: ignore[union-attr]
