"""SQLite keeps applications it read or wrote in memory; it must never answer with a stale one."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from openucwa.core.models import Token
from openucwa.store.sqlite import SqliteStore

from .test_contract import NOW, app, event


@pytest.fixture
async def store(sqlite_store: SqliteStore) -> SqliteStore:
    async with sqlite_store.transaction() as tx:
        await tx.add_application(app())
    async with sqlite_store.transaction() as tx:
        assert await tx.get_application("app1") == app()  # now cached
    return sqlite_store


async def test_writes_are_seen_as_reading_back_would_give_them(store: SqliteStore) -> None:
    async with store.transaction() as tx:
        await tx.update_application("app1", supported_modalities=["Messaging"], available=True)
        version = await tx.bump_version("app1")
    async with store.transaction() as tx:
        cached = await tx.get_application("app1")
    await store.run_sync(lambda c: None)  # empties the cache: the next read comes from the file
    async with store.transaction() as tx:
        fresh = await tx.get_application("app1")
    assert cached == fresh
    assert fresh is not None and fresh.supported_modalities == ("Messaging",) and fresh.version == version


async def test_a_unit_that_rolls_back_leaves_no_trace_in_the_cache(store: SqliteStore) -> None:
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.update_application("app1", next_batch=9)
            assert (await tx.get_application("app1")).next_batch == 9  # type: ignore[union-attr]
            raise RuntimeError("changed my mind")
    async with store.transaction() as tx:
        assert (await tx.get_application("app1")).next_batch == 1  # type: ignore[union-attr]


async def test_another_process_committing_empties_the_cache(store: SqliteStore, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "openucwa.sqlite3") as cli:
        cli.execute("UPDATE applications SET status = 'deleted' WHERE id = 'app1'")
    async with store.transaction() as tx:
        assert (await tx.get_application("app1")).status == "deleted"  # type: ignore[union-attr]


async def test_other_writes_on_the_connection_empty_the_cache(store: SqliteStore) -> None:
    async with store.transaction() as tx:
        await tx.delete_application("app1")  # not one of the statements that keep the cache
    async with store.transaction() as tx:
        assert await tx.get_application("app1") is None


async def queued(store: SqliteStore) -> list[int]:
    async with store.transaction() as tx:
        return [e.position for e in await tx.queued_events("app1")]


async def test_a_queue_known_empty_is_not_read_but_never_hides_an_event(store: SqliteStore) -> None:
    async with store.transaction() as tx:
        await tx.append_events("app1", [event(1), event(2)], NOW)
    first = await queued(store)
    assert len(first) == 2
    async with store.transaction() as tx:  # a round producing a batch of everything queued
        await tx.queued_events("app1")
        await tx.store_batch("app1", 1, b"{}", first)
    assert await queued(store) == []  # known empty now
    async with store.transaction() as tx:
        await tx.append_events("app1", [event(3)], NOW)
    assert len(await queued(store)) == 1

    # A round that consumed the queue and then failed, inside a transaction another unit opened
    # (so only its savepoint rolls back): the events are queued again.
    async def other_unit() -> None:
        async with store.transaction() as tx:
            await tx.add_token(Token("t1", "lenea@contoso.com", NOW + 3600))

    async def failing_round() -> None:
        async with store.transaction() as tx:
            again = [e.position for e in await tx.queued_events("app1")]
            await tx.store_batch("app1", 2, b"{}", again)
            raise RuntimeError("the response could not be built")

    results = await asyncio.gather(other_unit(), failing_round(), return_exceptions=True)
    assert results[0] is None and isinstance(results[1], RuntimeError)
    assert len(await queued(store)) == 1


async def test_a_batch_that_leaves_events_behind_does_not_mark_the_queue_empty(store: SqliteStore) -> None:
    async with store.transaction() as tx:
        await tx.append_events("app1", [event(1), event(2)], NOW)
    positions = await queued(store)
    async with store.transaction() as tx:
        await tx.queued_events("app1")
        await tx.store_batch("app1", 1, b"{}", positions[:1])
    assert await queued(store) == positions[1:]
