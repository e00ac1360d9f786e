"""The Store contract, run unchanged against every backend (see conftest ``store``)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from openucwa.core.events import Event, Priority, StoredEvent
from openucwa.core.models import Application, AppStatus, Token, User
from openucwa.store import DuplicateError, SqlStore, open_store
from openucwa.store.postgres import asyncpg_url
from openucwa.store.schema import applications, metadata
from openucwa.store.sql import APP_FIELDS, MIGRATIONS
from openucwa.store.sqlite import SqliteStore

NOW = 1_700_000_000.123  # milliseconds must survive the round trip


def user(uri: str = "lenea@contoso.com", **kw: Any) -> User:
    kw.setdefault("id", f"account-{uri}")
    return User(uri=uri, name=uri.split("@")[0].title(), password_hash="$argon2id$x", **kw)


def app(app_id: str = "app1", user_uri: str = "lenea@contoso.com", **kw: Any) -> Application:
    base: dict[str, Any] = {
        "endpoint_id": "ep-1",
        "user_agent": "test/1.0",
        "culture": "en-US",
        "type": "Phone",
        "comm_key": "9c5f0b42-0000-4000-8000-000000000001",
        "created_at": NOW,
        "last_request_at": NOW,
    }
    return Application(id=app_id, user_uri=user_uri, **(base | kw))


FULL_APP = app(
    "full",
    status=AppStatus.EXPIRED,
    ended_at=NOW + 1.5,
    instance_id="node-7",
    available=True,
    supported_modalities=("Messaging", "Audio"),
    supported_message_formats=("Plain", "Html"),
    sign_in_as="Online",
    inactive_timeout=15,
    last_activity_at=NOW + 0.001,
    lowest_batch=3,
    next_batch=7,
    ch_timeout=900,
    ch_low=60,
    ch_medium=10,
    resume_pending=True,
    pget_owner="node-7/req-1",
    pget_priority=2,
    pget_lease_until=NOW + 180.25,
    pget_released_at=NOW - 2.75,
    used_channel=True,
    version=41,
    extra={"note": "héllo ☃", "empty": ""},
)


def event(
    n: int, *, type_: str = "added", sender: str = "people", priority: Priority = Priority.HIGH
) -> Event:
    return Event(
        sender_rel=sender,
        sender_href=f"/ucwa/v1/applications/app1/{sender}",
        type=type_,
        link_rel="contact",
        link_href=f"/ucwa/v1/applications/app1/people/c{n}",
        priority=priority,
        link_title=f"Contact {n}" if n % 2 else None,
        embedded={"name": f"Contact {n}", "n": n, "nested": {"ok": True, "x": None}} if n % 3 else None,
        extra={"ordinal": n},
    )


async def seed(store: SqlStore, *apps: Application) -> None:
    async with store.transaction() as tx:
        await tx.add_user(user())
        for a in apps:
            await tx.add_application(a)


# users ---------------------------------------------------------------------------------------


async def test_users_crud(store: SqlStore) -> None:
    full = user(
        "zed@contoso.com", email="z@c.com", title="T", department="D", company="C", office="O", work_phone="1"
    )
    async with store.transaction() as tx:
        await tx.add_user(full)
        await tx.add_user(user("amy@contoso.com"))
    async with store.transaction() as tx:
        assert await tx.get_user("zed@contoso.com") == full
        assert await tx.get_user("nobody@contoso.com") is None
        assert [u.uri for u in await tx.list_users()] == ["amy@contoso.com", "zed@contoso.com"]
        assert await tx.set_password("amy@contoso.com", "new-hash") is True
        assert await tx.set_password("nobody@contoso.com", "new-hash") is False
    async with store.transaction() as tx:
        amy = await tx.get_user("amy@contoso.com")
        assert amy is not None and amy.password_hash == "new-hash"
        assert await tx.remove_user("amy@contoso.com") is True
        assert await tx.remove_user("amy@contoso.com") is False
        assert await tx.list_users() == [full]


async def test_duplicate_user_raises_and_transaction_survives(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.add_user(user())
        with pytest.raises(DuplicateError):
            await tx.add_user(user(email="other@c.com"))
        await tx.add_user(user("bob@contoso.com"))  # the transaction is still usable
    async with store.transaction() as tx:
        with pytest.raises(DuplicateError):
            await tx.add_user(user())
        assert [u.uri for u in await tx.list_users()] == ["bob@contoso.com", "lenea@contoso.com"]
        assert await tx.get_user("lenea@contoso.com") == user()


# tokens --------------------------------------------------------------------------------------


async def test_tokens_and_expiry(store: SqlStore) -> None:
    await seed(store)
    async with store.transaction() as tx:
        await tx.add_token(Token("old", "lenea@contoso.com", NOW - 0.001, "account-lenea@contoso.com"))
        await tx.add_token(Token("edge", "lenea@contoso.com", NOW, "account-lenea@contoso.com"))
        await tx.add_token(Token("fresh", "lenea@contoso.com", NOW + 0.001, "account-lenea@contoso.com"))
    async with store.transaction() as tx:
        assert await tx.get_token("fresh") == Token(
            "fresh", "lenea@contoso.com", NOW + 0.001, "account-lenea@contoso.com"
        )
        assert await tx.get_token("missing") is None
        assert await tx.delete_expired_tokens(NOW) == 2
        assert await tx.get_token("old") is None and await tx.get_token("edge") is None
        assert await tx.delete_expired_tokens(NOW) == 0
        assert await tx.get_token("fresh") is not None


async def test_tokens_cascade_with_user_and_need_a_user(store: SqlStore) -> None:
    await seed(store)
    async with store.transaction() as tx:
        await tx.add_token(Token("t1", "lenea@contoso.com", NOW, "account-lenea@contoso.com"))
        await tx.add_token(Token("t2", "lenea@contoso.com", NOW, "account-lenea@contoso.com"))
    async with store.transaction() as tx:
        assert await tx.remove_user("lenea@contoso.com")
    async with store.transaction() as tx:
        assert await tx.get_token("t1") is None and await tx.get_token("t2") is None
    # A dangling token is a bug, not a duplicate: the foreign key is enforced (SQLite PRAGMA too).
    with pytest.raises(sa.exc.IntegrityError):
        async with store.transaction() as tx:
            await tx.add_token(Token("t3", "ghost@contoso.com", NOW))


# applications --------------------------------------------------------------------------------


def test_schema_has_one_column_per_application_field() -> None:
    assert set(applications.c.keys()) == APP_FIELDS


@pytest.mark.parametrize("record", [app(), FULL_APP], ids=["defaults", "every-field-set"])
async def test_application_round_trip(store: SqlStore, record: Application) -> None:
    await seed(store, record)
    async with store.transaction() as tx:
        got = await tx.get_application(record.id)
        locked = await tx.get_application(record.id, for_update=True)
    assert got == record and locked == record
    assert got is not None and isinstance(got.supported_modalities, tuple)
    assert isinstance(got.available, bool) and isinstance(got.extra, dict)


async def test_duplicate_application(store: SqlStore) -> None:
    await seed(store, app())
    async with store.transaction() as tx:
        with pytest.raises(DuplicateError):
            await tx.add_application(app(endpoint_id="other"))
        assert await tx.get_application("app1") == app()
        assert await tx.get_application("nope") is None


async def test_find_application_only_active(store: SqlStore) -> None:
    await seed(
        store,
        app("gone", status=AppStatus.DELETED, created_at=NOW + 5),
        app("live", created_at=NOW),
        app("other-ep", endpoint_id="ep-2"),
    )
    async with store.transaction() as tx:
        found = await tx.find_application("lenea@contoso.com", "ep-1")
        assert found is not None and found.id == "live"
        assert await tx.find_application("lenea@contoso.com", "ep-9") is None
        assert await tx.find_application("bob@contoso.com", "ep-1") is None
        await tx.update_application("live", status=AppStatus.EVICTED)
        assert await tx.find_application("lenea@contoso.com", "ep-1") is None


async def test_list_applications(store: SqlStore) -> None:
    await seed(
        store,
        app("c", created_at=NOW + 2),
        app("a", created_at=NOW + 0),
        app("x", user_uri="bob@contoso.com", created_at=NOW + 1),
        app("d", created_at=NOW + 3, status=AppStatus.EXPIRED),
    )
    async with store.transaction() as tx:
        assert [a.id for a in await tx.list_applications()] == ["a", "x", "c"]
        assert [a.id for a in await tx.list_applications("lenea@contoso.com")] == ["a", "c"]
        everything = await tx.list_applications("lenea@contoso.com", active_only=False)
        assert [a.id for a in everything] == ["a", "c", "d"]
        assert [a.id for a in await tx.list_applications(None, active_only=False)] == ["a", "x", "c", "d"]
        assert await tx.list_applications("nobody@contoso.com") == []


async def test_applications_beyond_the_most_recently_used(store: SqlStore) -> None:
    await seed(
        store,
        app("old", last_request_at=NOW + 1),
        app("recent", last_request_at=NOW + 9),
        app("middle", last_request_at=NOW + 5),
        app("ended", last_request_at=NOW + 0, status=AppStatus.EXPIRED),
        app("bobs", user_uri="bob@contoso.com", last_request_at=NOW + 0),
    )
    async with store.transaction() as tx:
        beyond = [[a.id for a in await tx.applications_beyond("lenea@contoso.com", k)] for k in (0, 1, 3)]
        assert beyond == [["old", "middle", "recent"], ["old", "middle"], []]
        assert await tx.applications_beyond("nobody@contoso.com", 0) == []


async def test_update_application_round_trips_every_field_type(store: SqlStore) -> None:
    await seed(store, app())
    changes = {f.name: getattr(FULL_APP, f.name) for f in dataclasses.fields(FULL_APP) if f.name != "id"}
    async with store.transaction() as tx:
        await tx.update_application("app1", **changes)
    async with store.transaction() as tx:
        assert await tx.get_application("app1") == dataclasses.replace(FULL_APP, id="app1")
        # back to defaults: None, False, empty tuple and empty dict must survive too
        await tx.update_application(
            "app1", ended_at=None, available=False, supported_modalities=(), extra={}, pget_owner=None
        )
        await tx.update_application("app1")  # nothing to change is fine
    async with store.transaction() as tx:
        got = await tx.get_application("app1")
    assert got == dataclasses.replace(
        FULL_APP,
        id="app1",
        ended_at=None,
        available=False,
        supported_modalities=(),
        extra={},
        pget_owner=None,
    )


async def test_update_application_rejects_unknown_fields(store: SqlStore) -> None:
    await seed(store, app())
    async with store.transaction() as tx:
        with pytest.raises(ValueError, match="bogus"):
            await tx.update_application("app1", next_batch=2, bogus=1)
        with pytest.raises(ValueError, match="id"):
            await tx.update_application("app1", id="renamed")
        assert await tx.get_application("app1") == app()


async def test_delete_application_removes_queue_and_batches(store: SqlStore) -> None:
    await seed(store, app(), app("keep", endpoint_id="ep-2"))
    async with store.transaction() as tx:
        await tx.append_events("app1", [event(1), event(2)], NOW)
        await tx.append_events("keep", [event(3)], NOW)
        await tx.store_batch("app1", 1, b"one", [])
        await tx.store_batch("keep", 1, b"kept", [])
    async with store.transaction() as tx:
        await tx.delete_application("app1")
    async with store.transaction() as tx:
        assert await tx.get_application("app1") is None
        assert await tx.queued_events("app1") == []
        assert await tx.get_batch("app1", 1) is None
        assert len(await tx.queued_events("keep")) == 1
        assert await tx.get_batch("keep", 1) == b"kept"


# event channel -------------------------------------------------------------------------------


async def test_append_events_order_version_and_contents(store: SqlStore) -> None:
    await seed(store, app(), app("other", endpoint_id="ep-2"))
    first = [event(1), event(2, type_="updated", priority=Priority.LOW), event(3, sender="me")]
    second = [event(4, type_="updated", priority=Priority.MEDIUM), event(5)]
    async with store.transaction() as tx:
        assert await tx.append_events("app1", first, NOW) == 1
        assert await tx.append_events("other", [event(9)], NOW) == 1
    async with store.transaction() as tx:
        assert await tx.append_events("app1", second, NOW + 1) == 2
        assert await tx.append_events("app1", [], NOW + 2) == 3  # no events still bumps
        queued = await tx.queued_events("app1")
        stored = await tx.get_application("app1")
    assert stored is not None and stored.version == 3
    positions = [q.position for q in queued]
    assert positions == sorted(positions) and len(set(positions)) == 5
    expected = [(ev, NOW) for ev in first] + [(ev, NOW + 1) for ev in second]
    assert len(queued) == len(expected)
    for q, (ev, at) in zip(queued, expected, strict=True):
        assert q == StoredEvent(
            q.position, ev.sender_rel, ev.sender_href, ev.wire(), ev.priority, at, ev.merge_key
        )
        assert type(q.priority) is Priority
    assert queued[1].merge_key == event(2).link_href and queued[0].merge_key is None


async def test_many_applications_locked_and_their_queues_read_at_once(store: SqlStore) -> None:
    """What a shared P-GET round reads: the same as one get_application / queued_events each."""
    await seed(store, app(), app("other", endpoint_id="ep-2"), app("idle", endpoint_id="ep-3"))
    async with store.transaction() as tx:
        await tx.append_events("app1", [event(1), event(2)], NOW)
        await tx.append_events("other", [event(3)], NOW + 1)
    async with store.transaction() as tx:
        apps = await tx.lock_applications(["other", "app1", "missing", "idle", "app1"])
        assert sorted(apps) == ["app1", "idle", "other"]
        for app_id, got in apps.items():
            assert got == await tx.get_application(app_id)
        queues = await tx.queued_events_many(["other", "app1", "idle", "missing"])
        for app_id in ("app1", "other", "idle", "missing"):
            assert queues.get(app_id, []) == await tx.queued_events(app_id)
        assert [len(queues.get(a, [])) for a in ("app1", "other", "idle")] == [2, 1, 0]


async def test_bump_version(store: SqlStore) -> None:
    await seed(store, app(version=10))
    async with store.transaction() as tx:
        assert await tx.bump_version("app1") == 11
        assert await tx.bump_version("app1") == 12
        with pytest.raises(LookupError):
            await tx.bump_version("missing")
        with pytest.raises(LookupError):
            await tx.append_events("missing", [event(1)], NOW)
    async with store.transaction() as tx:
        got = await tx.get_application("app1")
        assert got is not None and got.version == 12
        assert await tx.queued_events("missing") == []


async def test_batches_consume_events_and_keep_exact_bytes(store: SqlStore) -> None:
    await seed(store, app())
    body = b'{"sender":[]}\x00\xff\xfe binary \r\n'
    async with store.transaction() as tx:
        await tx.append_events("app1", [event(n) for n in range(1, 6)], NOW)
        queued = await tx.queued_events("app1")
        consumed = [q.position for q in queued[:3]]
        await tx.store_batch("app1", 1, body, consumed)
    async with store.transaction() as tx:
        assert await tx.get_batch("app1", 1) == body
        assert await tx.get_batch("app1", 2) is None
        rest = await tx.queued_events("app1")
        assert rest == queued[3:]
        with pytest.raises(DuplicateError):
            await tx.store_batch("app1", 1, b"again", [q.position for q in rest])
        assert await tx.queued_events("app1") == rest  # a refused batch consumes nothing
        await tx.store_batch("app1", 2, b"", [q.position for q in rest])
    async with store.transaction() as tx:
        assert await tx.queued_events("app1") == []
        assert await tx.get_batch("app1", 2) == b""
        assert await tx.get_batch("app1", 1) == body


async def test_prune_batches(store: SqlStore) -> None:
    await seed(store, app(), app("other", endpoint_id="ep-2"))
    async with store.transaction() as tx:
        for n in range(1, 6):
            await tx.store_batch("app1", n, f"b{n}".encode(), [])
        await tx.store_batch("other", 1, b"o1", [])
        await tx.prune_batches("app1", 4)
    async with store.transaction() as tx:
        assert [await tx.get_batch("app1", n) for n in range(1, 6)] == [None, None, None, b"b4", b"b5"]
        assert await tx.get_batch("other", 1) == b"o1"


async def test_discard_queued(store: SqlStore) -> None:
    await seed(store, app(), app("other", endpoint_id="ep-2"))
    async with store.transaction() as tx:
        await tx.append_events("app1", [event(1), event(2)], NOW)
        await tx.append_events("other", [event(3)], NOW)
        await tx.discard_queued("app1")
    async with store.transaction() as tx:
        assert await tx.queued_events("app1") == []
        assert len(await tx.queued_events("other")) == 1


async def test_positions_never_reused_after_queue_empties(store: SqlStore) -> None:
    await seed(store, app())
    async with store.transaction() as tx:
        await tx.append_events("app1", [event(1), event(2)], NOW)
        first = [q.position for q in await tx.queued_events("app1")]
        await tx.discard_queued("app1")
    async with store.transaction() as tx:
        await tx.append_events("app1", [event(3)], NOW)
        (again,) = await tx.queued_events("app1")
    assert again.position > max(first)


# transactions --------------------------------------------------------------------------------


class Boom(Exception):
    pass


async def test_exception_rolls_back_everything(store: SqlStore) -> None:
    await seed(store, app())
    with pytest.raises(Boom):
        async with store.transaction() as tx:
            await tx.add_user(user("bob@contoso.com"))
            await tx.add_token(Token("t", "bob@contoso.com", NOW))
            await tx.add_application(app("new", endpoint_id="ep-2"))
            await tx.update_application("app1", next_batch=9, extra={"k": "v"})
            await tx.append_events("app1", [event(1)], NOW)
            await tx.store_batch("app1", 1, b"x", [])
            raise Boom
    async with store.transaction() as tx:
        assert await tx.get_user("bob@contoso.com") is None
        assert await tx.get_token("t") is None
        assert await tx.get_application("new") is None
        assert await tx.get_application("app1") == app()
        assert await tx.queued_events("app1") == []
        assert await tx.get_batch("app1", 1) is None


async def test_concurrent_read_modify_write_is_serialised(store: SqlStore) -> None:
    await seed(store, app())

    async def increment() -> None:
        async with store.transaction() as tx:
            current = await tx.get_application("app1", for_update=True)
            assert current is not None
            await asyncio.sleep(0.001)  # let the others run between our read and our write
            await tx.update_application("app1", next_batch=current.next_batch + 1)

    async def append(n: int) -> None:
        async with store.transaction() as tx:
            await tx.get_application("app1", for_update=True)
            await asyncio.sleep(0)
            await tx.append_events("app1", [event(n)], NOW)

    await asyncio.gather(*(increment() for _ in range(20)), *(append(n) for n in range(20)))
    async with store.transaction() as tx:
        final = await tx.get_application("app1")
        queued = await tx.queued_events("app1")
    assert final is not None and final.next_batch == 1 + 20 and final.version == 20
    assert len(queued) == 20


# schema and migrations -----------------------------------------------------------------------


def _diff(sync_conn: sa.Connection) -> list[Any]:
    return compare_metadata(MigrationContext.configure(sync_conn, opts={"compare_type": True}), metadata)


async def test_migrated_schema_matches_metadata_and_migrate_is_idempotent(store: SqlStore) -> None:
    await seed(store, app())
    assert await store.run_sync(_diff) == []
    await store.migrate()
    await store.migrate()
    assert await store.run_sync(_diff) == []
    versions = await store.run_sync(
        lambda c: c.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    )
    assert versions == [ScriptDirectory(str(MIGRATIONS)).get_current_head()]
    async with store.transaction() as tx:
        assert await tx.get_application("app1") == app()


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    store = await open_store(None, str(tmp_path / "data"))
    try:
        assert (tmp_path / "data" / "openucwa.sqlite3").is_file()
        pragmas = await store.run_sync(
            lambda c: [
                c.exec_driver_sql(f"PRAGMA {p}").scalar()
                for p in (
                    "journal_mode",
                    "synchronous",
                    "busy_timeout",
                    "foreign_keys",
                    "wal_autocheckpoint",
                    "journal_size_limit",
                )
            ]
        )
        assert pragmas == [
            "wal",
            1,
            0,
            1,
            10000,
            64 * 1024 * 1024,
        ]  # busy: retried off the loop (SqliteStore.begin)
    finally:
        await store.close()


async def test_sqlite_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url, path in [
        ("sqlite:///rel/db.sqlite3", tmp_path / "rel" / "db.sqlite3"),
        (f"sqlite:///{tmp_path / 'abs' / 'db.sqlite3'}", tmp_path / "abs" / "db.sqlite3"),
    ]:
        store = await open_store(url, str(tmp_path / "unused"))
        await store.close()
        assert path.is_file()
    assert not (tmp_path / "unused").exists()


def test_postgres_url_rewriting() -> None:
    for raw in (
        "postgres://u:p@h:5433/db",
        "postgresql://u:p@h:5433/db",
        "postgresql+asyncpg://u:p@h:5433/db",
    ):
        assert asyncpg_url(raw).render_as_string(hide_password=False) == "postgresql+asyncpg://u:p@h:5433/db"
    assert asyncpg_url("postgres://h/db?sslmode=require").query == {"ssl": "require"}
    with pytest.raises(ValueError):
        asyncpg_url("mysql://h/db")


async def test_unknown_scheme_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mysql"):
        await open_store("mysql://h/db", str(tmp_path))


async def test_session_deadlines_are_set_moved_earlier_only_and_found_when_due(store: SqlStore) -> None:
    async with store.transaction() as tx:
        for sid in ("s1", "s2", "s3"):
            await tx.add_session(sid, NOW)
        await tx.set_session_deadline("s1", NOW + 30)
        await tx.advance_session_deadline("s1", NOW + 60)  # later: kept at +30
        await tx.advance_session_deadline("s2", NOW + 20)  # none yet: set
        await tx.set_session_deadline("s3", NOW + 50)
        await tx.advance_session_deadline("s3", NOW + 10)  # earlier: moved
        await tx.advance_session_deadline("gone", NOW)  # unknown: nothing happens
    async with store.transaction() as tx:
        assert await tx.due_sessions(NOW + 9) == []
        assert sorted(await tx.due_sessions(NOW + 20)) == ["s2", "s3"]
        assert sorted(await tx.due_sessions(NOW + 30)) == ["s1", "s2", "s3"]
        await tx.set_session_deadline("s1", None)  # cleared
        assert sorted(await tx.due_sessions(NOW + 100)) == ["s2", "s3"]


async def test_a_session_deleted_in_a_unit_is_gone_for_the_rest_of_it(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.add_session("s1", NOW)
    async with store.transaction() as tx:
        assert await tx.lock_session("s1")
        await tx.delete_session("s1")
        assert await tx.try_lock_session("s1") is False
        assert await tx.lock_session("s1") is False
    async with store.transaction() as tx:
        assert await tx.try_lock_session("s1") is False


async def test_try_lock_session_never_waits(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.add_session("s1", NOW)
    async with store.transaction() as tx:
        assert await tx.try_lock_session("s1") is True
        assert await tx.try_lock_session("gone") is False
    holding, tried = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with store.transaction() as tx:
            assert await tx.lock_session("s1")
            holding.set()
            await tried.wait()

    async def other() -> bool | None:
        await holding.wait()
        try:
            async with store.transaction() as tx:
                return await tx.try_lock_session("s1")
        finally:
            tried.set()

    if isinstance(store, SqliteStore):
        # One transaction at a time: the other one runs only after the holder, and then gets it.
        tried.set()
        await holder()
        assert await other() is True
    else:
        async with asyncio.timeout(10):  # a try that waited would never return: the holder waits for it
            results = await asyncio.gather(holder(), other())
        assert results[1] is None  # held elsewhere: told so at once rather than waiting
