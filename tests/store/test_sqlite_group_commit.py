"""SQLite group commit: units queued together share one COMMIT, yet each is durable when it returns
and a failing one undoes only itself (see ``SqliteStore``)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from openucwa.core.models import Token
from openucwa.store.sqlite import SqliteStore

NOW = 1_700_000_000.0


def committed_tokens(path: Path) -> set[str]:
    """What another connection (another process) sees: only committed rows."""
    with sqlite3.connect(path) as other:
        return {r[0] for r in other.execute("SELECT token_hash FROM tokens")}


@pytest.fixture
def store(sqlite_store: SqliteStore) -> SqliteStore:
    return sqlite_store


async def test_queued_units_share_commits_and_each_is_committed_when_it_returns(
    store: SqliteStore, tmp_path: Path
) -> None:
    db = tmp_path / "openucwa.sqlite3"
    seen_at_return: dict[str, bool] = {}
    before = store.commits

    async def unit(i: int) -> None:
        async with store.transaction() as tx:
            await tx.add_token(Token(f"t{i}", "lenea@contoso.com", NOW, "account-lenea@contoso.com"))
        seen_at_return[f"t{i}"] = f"t{i}" in committed_tokens(db)

    await asyncio.gather(*(unit(i) for i in range(20)))
    assert seen_at_return == {f"t{i}": True for i in range(20)}
    commits = store.commits - before
    assert 1 <= commits < 20


async def test_a_group_that_held_its_budget_of_work_commits_at_once(
    store: SqliteStore, tmp_path: Path
) -> None:
    """Past ``group_budget`` seconds of work, the next unit to end commits instead of taking in
    more: with no budget at all, every unit of a queued burst is its own COMMIT."""
    db = tmp_path / "openucwa.sqlite3"
    store.group_budget = 0.0
    before = store.commits
    seen_at_return: dict[str, bool] = {}

    async def unit(i: int) -> None:
        async with store.transaction() as tx:
            await tx.add_token(Token(f"b{i}", "lenea@contoso.com", NOW, "account-lenea@contoso.com"))
        seen_at_return[f"b{i}"] = f"b{i}" in committed_tokens(db)

    await asyncio.gather(*(unit(i) for i in range(10)))
    assert store.commits - before == 10
    assert seen_at_return == {f"b{i}": True for i in range(10)}


async def test_a_failing_unit_undoes_only_itself(store: SqliteStore, tmp_path: Path) -> None:
    db = tmp_path / "openucwa.sqlite3"

    async def unit(i: int) -> None:
        async with store.transaction() as tx:
            await tx.add_token(Token(f"t{i}", "lenea@contoso.com", NOW, "account-lenea@contoso.com"))
            await asyncio.sleep(0)
            if i % 3 == 0:
                raise RuntimeError("changed my mind")

    results = await asyncio.gather(*(unit(i) for i in range(12)), return_exceptions=True)
    failed = {f"t{i}" for i, r in enumerate(results) if isinstance(r, RuntimeError)}
    assert failed == {"t0", "t3", "t6", "t9"}
    assert committed_tokens(db) == {f"t{i}" for i in range(12)} - failed
    async with store.transaction() as tx:
        assert await tx.get_token("t3") is None and await tx.get_token("t4") is not None


async def test_a_cancelled_unit_leaves_nothing_open(store: SqliteStore, tmp_path: Path) -> None:
    db = tmp_path / "openucwa.sqlite3"
    release = asyncio.Event()

    inside = asyncio.Event()

    async def slow() -> None:
        async with store.transaction() as tx:
            await tx.add_token(Token("slow", "lenea@contoso.com", NOW, "account-lenea@contoso.com"))
            inside.set()
            await release.wait()

    async def queued(name: str) -> None:
        async with store.transaction() as tx:
            await tx.add_token(Token(name, "lenea@contoso.com", NOW, "account-lenea@contoso.com"))

    first = asyncio.create_task(slow())
    await inside.wait()
    doomed = asyncio.create_task(queued("doomed"))  # waits for the lock behind `slow`
    async with asyncio.timeout(5):
        while not store._lock._waiters:  # noqa: ASYNC110 - asyncio.Lock offers no "someone waits" event
            await asyncio.sleep(0)
    doomed.cancel()
    release.set()
    await first
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert committed_tokens(db) == {"slow"}
    # the write lock is free: another process can write at once
    with sqlite3.connect(db, timeout=0.1) as other:
        other.execute(
            "INSERT INTO tokens (token_hash, user_uri, expires_at) VALUES ('cli', 'lenea@contoso.com', 1.0)"
        )
    assert "cli" in committed_tokens(db)
