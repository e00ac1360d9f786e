"""Within one unit of work, every read sees the unit's own earlier writes, on both backends.

PostgreSQL holds back writes whose outcome the unit does not read and sends them with its next
statement (``store/postgres/writes.py``); these tests read each kind of such write back in the
same unit, write one row twice in two ways, and fail a held-back write at commit. The PostgreSQL
statement counts pin what the hot P-GET round costs there.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from openucwa.core.conversation import ConvView, Direction, Message
from openucwa.core.machines.message import MessageStatus
from openucwa.store import DuplicateError, SqlStore
from openucwa.store.postgres import PgStore

from .test_contract import NOW, app, event, seed


def view(conv_id: str = "c1", **kw: object) -> ConvView:
    return ConvView(conv_id, "app1", "lenea@contoso.com", "s1", "t1", Direction.OUTGOING, **kw)  # type: ignore[arg-type]


def message(n: int = 1, status: MessageStatus = MessageStatus.PENDING) -> Message:
    return Message("c1", n, Direction.OUTGOING, "lenea@contoso.com", "text/plain", f"hi {n}", 1, None, status)


async def test_application_updates_merge_and_are_read_back(store: SqlStore) -> None:
    await seed(store, app())
    async with store.transaction() as tx:
        assert await tx.get_application("app1", for_update=True) is not None
        await tx.update_application("app1", next_batch=5, pget_owner="p1")
        await tx.update_application("app1", lowest_batch=2, pget_owner=None)
        got = await tx.get_application("app1")
        assert got is not None and (got.next_batch, got.lowest_batch, got.pget_owner) == (5, 2, None)
        assert await tx.bump_version("app1") == 1
        await tx.update_application("app1", ch_low=7)
    async with store.transaction() as tx:
        got = await tx.get_application("app1")
    assert got is not None and (got.next_batch, got.lowest_batch, got.ch_low, got.version) == (5, 2, 7, 1)


async def test_queued_events_pruned_batches_and_versions_read_back(store: SqlStore) -> None:
    await seed(store, app())
    async with store.transaction() as tx:
        await tx.store_batch("app1", 1, b"one", [])
        await tx.store_batch("app1", 2, b"two", [])
    async with store.transaction() as tx:
        assert await tx.get_application("app1", for_update=True) is not None
        assert await tx.append_events("app1", [event(1), event(2)], NOW) == 1
        assert await tx.append_events("app1", [event(3)], NOW) == 2
        await tx.prune_batches("app1", 2)
        await tx.prune_batches("app1", 1)  # an older acknowledgement prunes no less
        assert [q.body for q in await tx.queued_events("app1")] == [event(n).wire() for n in (1, 2, 3)]
        assert await tx.get_batch("app1", 1) is None and await tx.get_batch("app1", 2) == b"two"
        await tx.update_application("app1", next_batch=3)
        await tx.store_batch("app1", 3, b"three", [q.position for q in await tx.queued_events("app1")])
        assert await tx.queued_events("app1") == []
    async with store.transaction() as tx:
        got = await tx.get_application("app1")
        assert got is not None and got.next_batch == 3 and got.version == 2
        assert await tx.get_batch("app1", 3) == b"three"


async def test_message_inserted_then_updated_in_one_unit(store: SqlStore) -> None:
    await seed(store, app())
    async with store.transaction() as tx:
        await tx.add_session("s1", NOW)
        await tx.put_conversation(view(next_message=1))
        await tx.add_message(message(1))
        await tx.update_message("c1", 1, status=MessageStatus.FAILED, failed=["bob@contoso.com"])
        await tx.put_conversation(view(next_message=2))
        assert [v.next_message for v in await tx.session_views("s1")] == [2]
        got = await tx.get_message("c1", 1)
        assert got is not None and got.status is MessageStatus.FAILED
    async with store.transaction() as tx:
        got = await tx.get_message("c1", 1)
        assert got is not None and got.failed == ("bob@contoso.com",)
        stored = await tx.get_conversation("c1")
        assert stored is not None and stored.next_message == 2


async def test_a_clash_among_held_back_writes_fails_the_whole_unit(store: SqlStore) -> None:
    await seed(store, app())
    async with store.transaction() as tx:
        await tx.add_message(message(1))

    async def update_and_add(n: int) -> None:
        async with store.transaction() as tx:
            assert await tx.get_application("app1", for_update=True) is not None
            await tx.update_application("app1", next_batch=9)
            await tx.add_message(message(n, MessageStatus.FAILED))

    with pytest.raises(DuplicateError):
        await update_and_add(1)
    async with store.transaction() as tx:
        got = await tx.get_application("app1")
        assert got is not None and got.next_batch == 1
        kept = await tx.get_message("c1", 1)
        assert kept is not None and kept.status is MessageStatus.PENDING
    await update_and_add(2)  # the same writes without the clash: they go through
    async with store.transaction() as tx:
        got = await tx.get_application("app1")
        assert got is not None and got.next_batch == 9
        assert await tx.get_message("c1", 2) == message(2, MessageStatus.FAILED)


async def test_postgres_round_trips_of_a_pget_round(store: SqlStore) -> None:
    """Lock, queue read (carrying the prune), batch with its events' removal, and the application's
    update in one message with COMMIT and the next unit's BEGIN: four round trips."""
    if not isinstance(store, PgStore):
        pytest.skip("PostgreSQL only")
    await seed(store, app())
    for number in (1, 2):  # the first also has asyncpg learn the array types, once per connection
        async with store.transaction() as tx:
            await tx.append_events("app1", [event(number)], NOW)
        sent: list[str] = []

        def log(record: Any, sent: list[str] = sent) -> None:
            sent.append(record.query)

        async with store.transaction() as tx:
            tx._raw.add_query_logger(log)  # type: ignore[attr-defined]
            assert await tx.get_application("app1", for_update=True) is not None
            await tx.prune_batches("app1", number - 1)
            queued = await tx.queued_events("app1")
            await tx.store_batch("app1", number, b"[]", [q.position for q in queued])
            await tx.update_application("app1", next_batch=number + 1, pget_owner=None)
        async with store.transaction() as tx:  # the one connection a quiet store hands out
            tx._raw.remove_query_logger(log)  # type: ignore[attr-defined]
    assert [q.split()[0] for q in sent] == ["SELECT", "WITH", "WITH", "EXECUTE"]  # PREPAREd the first time
    assert sent[-1].endswith("; COMMIT; BEGIN")


AWKWARD = "it's \\ a $1 '); COMMIT; DROP TABLE applications; -- ☃ \u00e9\t\n"


async def test_values_written_in_at_commit_read_back_exactly(store: SqlStore) -> None:
    """PostgreSQL sends a unit's last held-back writes with COMMIT as SQL text: quotes, backslashes,
    placeholders, statements and exact floats in the values must come back as they were."""
    await seed(store, app())
    fields = {
        "pget_owner": AWKWARD,
        "extra": {"k'": AWKWARD, "n": [1, None]},
        "pget_lease_until": NOW + 1 / 3,
        "pget_released_at": -0.0001,
        "ch_low": -5,
        "resume_pending": True,
        "instance_id": None,
        "supported_modalities": ("Messaging", AWKWARD),
    }
    async with store.transaction() as tx:
        assert await tx.get_application("app1", for_update=True) is not None
        await tx.update_application("app1", **fields)
        await tx.add_session("s1", NOW)
        await tx.put_conversation(view(subject=AWKWARD, names={AWKWARD: "x"}))
        await tx.append_events("app1", [event(1, sender=AWKWARD)], NOW + 1 / 7)
    async with store.transaction() as tx:
        got = await tx.get_application("app1")
        stored = await tx.get_conversation("c1")
        queued = await tx.queued_events("app1")
    assert got is not None and {k: getattr(got, k) for k in fields} == fields
    assert stored == view(subject=AWKWARD, names={AWKWARD: "x"})
    assert [(q.sender_rel, q.enqueued_at) for q in queued] == [(AWKWARD, NOW + 1 / 7)]


async def test_postgres_a_nul_character_fails_the_unit_and_nothing_is_written(store: SqlStore) -> None:
    """PostgreSQL text cannot hold NUL (SQLite's can): the unit fails whole, as a bound value would."""
    if not isinstance(store, PgStore):
        pytest.skip("PostgreSQL only")
    await seed(store, app())
    with pytest.raises(ValueError, match="NUL"):
        async with store.transaction() as tx:
            assert await tx.get_application("app1", for_update=True) is not None
            await tx.update_application("app1", next_batch=4)
            await tx.update_application("app1", pget_owner="a\x00b")
    async with store.transaction() as tx:
        got = await tx.get_application("app1")
    assert got is not None and got.next_batch == 1 and got.pget_owner is None


async def test_views_read_again_under_the_session_lock_see_the_units_writes(store: SqlStore) -> None:
    await seed(store, app())
    async with store.transaction() as tx:
        await tx.add_session("s1", NOW)
        await tx.put_conversation(view("c1", created_at=1.0))
        await tx.put_conversation(view("c2", created_at=2.0))
    async with store.transaction() as tx:
        first = await tx.get_conversation("c1")
        assert first is not None and await tx.lock_session(first.session_id)
        again = await tx.get_conversation("c1")
        assert again == first and again is not first
        again.next_message = 5  # a view read is the caller's to change, not the unit's
        assert [v.next_message for v in await tx.session_views("s1")] == [1, 1]
        await tx.put_conversation(view("c1", created_at=1.0, next_message=7))
        assert [v.next_message for v in await tx.session_views("s1")] == [7, 1]
        await tx.delete_conversation("c2")
        assert [v.id for v in await tx.session_views("s1")] == ["c1"]
        assert await tx.get_conversation("c2") is None
        stored = await tx.get_conversation("c1")
        assert stored is not None and stored.next_message == 7


async def test_postgres_a_view_read_again_after_the_lock_sees_what_committed_meanwhile(
    store: SqlStore,
) -> None:
    """The reason to read a view again once its session is locked: another unit changed it since."""
    if not isinstance(store, PgStore):
        pytest.skip("PostgreSQL only (SQLite runs one transaction at a time)")
    await seed(store, app())
    async with store.transaction() as tx:
        await tx.add_session("s1", NOW)
        await tx.put_conversation(view("c1"))
    async with store.transaction() as reader:
        before = await reader.get_conversation("c1")
        assert before is not None and before.next_message == 1
        async with store.transaction() as writer:
            assert await writer.lock_session("s1")
            await writer.put_conversation(view("c1", next_message=3))
        assert await reader.lock_session("s1")
        after = await reader.get_conversation("c1")
        assert after is not None and after.next_message == 3
        assert [v.next_message for v in await reader.session_views("s1")] == [3]


async def test_a_quiet_server_leaves_no_session_idle_in_transaction(store: SqlStore) -> None:
    """A begun connection nobody takes goes back to the pool, out of its transaction, after
    ``linger`` seconds: DBAs watch for sessions idle in transaction."""
    if not isinstance(store, PgStore):
        pytest.skip("SQLite keeps one connection and no transaction open between units")
    store._begun.linger = 0.05
    await seed(store, app())
    async with store.transaction() as tx:
        assert await tx.get_application("app1") is not None
    idle_in_tx = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND state = 'idle in transaction'"
    )
    async with store.pool.acquire() as probe:
        assert await probe.fetchval(idle_in_tx) >= 1  # kept, begun, for the next unit
        for _ in range(200):
            if await probe.fetchval(idle_in_tx) == 0:
                break
            await asyncio.sleep(0.01)
        assert await probe.fetchval(idle_in_tx) == 0
    assert store._begun.waiting == []
    async with store.transaction() as tx:  # and units still run
        assert await tx.get_application("app1") is not None


async def test_a_queue_read_does_not_walk_consumed_events(store: SqlStore) -> None:
    """Consumed events leave dead index entries until the next vacuum. A plain index scan marks them
    dead as it meets them, so the next read skips them; a bitmap scan never does, and every read of
    the queue would walk all of them again (what the planner picks for a busy queue table)."""
    if not isinstance(store, PgStore):
        pytest.skip("PostgreSQL's planner and index entries")
    insert = (
        "INSERT INTO events (app_id, sender_rel, sender_href, body, priority, enqueued_at)"
        " SELECT $1 || (i % $2), 'me', '/x', repeat('x', 200), 1, 0 FROM generate_series(1, $3) AS i"
    )
    read = "SELECT * FROM events WHERE app_id = 'busy0' ORDER BY position"
    index_reads = (
        "SELECT idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = 'ix_events_app_id_position'"
    )
    async with store.pool.acquire() as conn:
        await conn.execute(insert, "other", 200, 20000)
        await conn.execute(insert, "busy", 1, 3000)
        await conn.execute("ANALYZE events")
        await conn.execute("DELETE FROM events WHERE app_id = 'busy0'")  # consumed
        assert await conn.fetch(read) == []  # the first read meets the dead entries

        async def entries_read() -> int:
            await conn.execute("SELECT pg_stat_force_next_flush()")
            await conn.execute("SELECT 1")  # the flush happens when a statement ends
            await conn.execute("SELECT pg_stat_clear_snapshot()")
            return int(await conn.fetchval(index_reads))

        before = await entries_read()
        for _ in range(3):
            assert await conn.fetch(read) == []
        assert await entries_read() - before < 100


async def test_a_unit_after_the_database_dropped_its_connections(store: SqlStore, database_url: str) -> None:
    """PostgreSQL restarted, or an operator ended the server's sessions: the connections kept begun
    for the next unit are dead, and the next unit must run on a new one, not fail."""
    if not isinstance(store, PgStore):
        pytest.skip("SQLite has no server to drop connections")
    await seed(store, app())
    for _ in range(3):
        async with store.transaction() as tx:
            assert await tx.get_application("app1") is not None
    admin = await asyncpg.connect(database_url)
    try:
        ended = await admin.fetchval(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()) AS t"
        )
        assert ended >= 1
    finally:
        await admin.close()
    await asyncio.sleep(0.05)  # the kernel has told the server's side of each socket
    async with store.transaction() as tx:
        assert await tx.get_application("app1") is not None


async def test_a_units_own_views_and_messages_read_back_without_asking_again(store: SqlStore) -> None:
    """A message's unit reads back what it wrote: the session it locked, its views, the message it
    added (the sender's completion when the same unit produces the recipient's batch). PostgreSQL
    answers those reads from what the unit holds; the writes still reach the database."""
    await seed(store, app())
    async with store.transaction() as tx:
        await tx.add_session("s1", NOW)
        await tx.put_conversation(view("c1"))
        await tx.put_conversation(view("c2"))
    sent: list[str] = []

    def log(record: Any) -> None:
        sent.append(record.query)

    for n in (1, 2):  # the second time, asyncpg and the closing statement are warmed up
        sent.clear()
        async with store.transaction() as tx:
            if isinstance(store, PgStore):
                tx._raw.add_query_logger(log)  # type: ignore[attr-defined]
            assert await tx.lock_session("s1")
            mine = next(v for v in await tx.session_views("s1") if v.id == "c1")
            mine.next_message = n + 1
            await tx.put_conversation(mine)
            await tx.add_message(message(n))
            assert await tx.try_lock_session("s1") is True
            assert await tx.get_conversation("c1") == mine
            assert [v.next_message for v in await tx.session_views("s1")] == [n + 1, 1]
            assert await tx.get_message("c1", n) == message(n)
            await tx.update_message("c1", n, status=MessageStatus.SUCCEEDED, failed=())
            assert await tx.get_message("c1", n) == message(n, MessageStatus.SUCCEEDED)
        async with store.transaction() as tx:
            if isinstance(store, PgStore):
                tx._raw.remove_query_logger(log)  # type: ignore[attr-defined]
            stored = await tx.get_conversation("c1")
            assert stored is not None and stored.next_message == n + 1
            assert await tx.get_message("c1", n) == message(n, MessageStatus.SUCCEEDED)
    if isinstance(store, PgStore):  # the lock and the session's views; then only writes
        assert [q.split()[0] for q in sent[:2]] == ["SELECT", "SELECT"]
        assert not [q for q in sent[2:] if q.startswith("SELECT")], sent
        assert sent[-1].endswith("; COMMIT; BEGIN")
