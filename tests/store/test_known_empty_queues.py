"""PostgreSQL skips reading a queue it knows to be empty (``store/postgres/queues.py``): a P-GET
re-armed after an answer that took every queued event. The knowledge is checked against the row's
version, so events queued by any node since, and units that rolled back, are never missed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openucwa.store import SqlStore, open_store
from openucwa.store.postgres import PgStore

from .test_contract import NOW, app, event, seed


def _postgres(store: SqlStore) -> PgStore:
    if not isinstance(store, PgStore):
        pytest.skip("PostgreSQL only: SQLite keeps this with its cached applications")
    return store


async def _round(store: SqlStore, number: int, sent: list[str] | None = None) -> list[int]:
    """A P-GET round: lock, read the queue, store a batch taking all of it; the positions taken."""

    def log(record: Any) -> None:
        assert sent is not None
        sent.append(record.query)

    async with store.transaction() as tx:
        if sent is not None:
            tx._raw.add_query_logger(log)  # type: ignore[attr-defined]
        assert await tx.get_application("app1", for_update=True) is not None
        queued = await tx.queued_events("app1")
        await tx.store_batch("app1", number, b"[]", [q.position for q in queued])
        if sent is not None:
            tx._raw.remove_query_logger(log)  # type: ignore[attr-defined]
    return [q.position for q in queued]


def _queue_reads(sent: list[str]) -> int:
    """The queue read is the one statement that orders events by position."""
    return sum("ORDER BY events.position" in q for q in sent)


async def test_a_queue_emptied_by_a_committed_round_is_not_read_again(store: SqlStore) -> None:
    pg = _postgres(store)
    await seed(pg, app())
    async with pg.transaction() as tx:
        await tx.append_events("app1", [event(1), event(2)], NOW)
    assert len(await _round(pg, 1)) == 2
    sent: list[str] = []
    assert await _round(pg, 2, sent) == []
    assert _queue_reads(sent) == 0, sent
    # and events queued since are read: the row's version moved
    async with pg.transaction() as tx:
        await tx.append_events("app1", [event(3)], NOW)
    sent.clear()
    assert len(await _round(pg, 3, sent)) == 1
    assert _queue_reads(sent) == 1


async def test_events_queued_by_another_node_are_seen(
    store: SqlStore, database_url: str, tmp_path: Path
) -> None:
    pg = _postgres(store)
    await seed(pg, app())
    assert await _round(pg, 1) == []  # this node now knows the queue empty
    other = await open_store(database_url, str(tmp_path / "other-node"))
    try:
        async with other.transaction() as tx:
            await tx.append_events("app1", [event(1)], NOW)
    finally:
        await other.close()
    assert len(await _round(pg, 2)) == 1


async def test_a_round_that_rolled_back_teaches_nothing(store: SqlStore) -> None:
    pg = _postgres(store)
    await seed(pg, app())
    async with pg.transaction() as tx:
        await tx.append_events("app1", [event(1)], NOW)
    with pytest.raises(RuntimeError):
        async with pg.transaction() as tx:
            assert await tx.get_application("app1", for_update=True) is not None
            queued = await tx.queued_events("app1")
            await tx.store_batch("app1", 1, b"[]", [q.position for q in queued])
            raise RuntimeError("the round failed after taking the events")
    assert len(await _round(pg, 1)) == 1  # still queued, and read


async def test_a_round_that_took_part_of_the_queue_reads_it_again(store: SqlStore) -> None:
    pg = _postgres(store)
    await seed(pg, app())
    async with pg.transaction() as tx:
        await tx.append_events("app1", [event(1), event(2)], NOW)
    async with pg.transaction() as tx:
        assert await tx.get_application("app1", for_update=True) is not None
        queued = await tx.queued_events("app1")
        await tx.store_batch("app1", 1, b"[]", [queued[0].position])  # the batch was full
    assert await _round(pg, 2) == [queued[1].position]
