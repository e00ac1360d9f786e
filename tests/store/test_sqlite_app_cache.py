"""SQLite keeps applications it read or wrote in memory; it must never answer with a stale one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from openucwa.core.models import Application, User
from openucwa.store import open_store
from openucwa.store.sqlite import SqliteStore

NOW = 1_700_000_000.0


def app(app_id: str = "app1") -> Application:
    return Application(
        id=app_id,
        user_uri="lenea@contoso.com",
        endpoint_id="ep-1",
        user_agent="test/1.0",
        culture="en-US",
        type="Browser",
        comm_key="9c5f0b42-0000-4000-8000-000000000001",
        created_at=NOW,
        last_request_at=NOW,
    )


@pytest.fixture
async def store(tmp_path: Path) -> SqliteStore:
    s = await open_store(None, str(tmp_path))
    assert isinstance(s, SqliteStore)
    async with s.transaction() as tx:
        await tx.add_user(User(uri="lenea@contoso.com", name="Lene", password_hash="$argon2id$x"))
        await tx.add_application(app())
    async with s.transaction() as tx:
        assert await tx.get_application("app1") == app()  # now cached
    yield s  # type: ignore[misc]
    await s.close()


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
