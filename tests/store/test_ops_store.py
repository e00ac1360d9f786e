"""What operations ask of the store, on both backends, and the SQLite file's occupancy lock."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from openucwa.core.models import Application
from openucwa.store import SqlStore, open_store
from openucwa.store.sql.ops import head_revision, known_revision
from openucwa.store.sqlite import files


async def test_schema_status_and_activity(store: SqlStore) -> None:
    status = await store.schema_status()
    assert status.at_head and status.current == head_revision()
    before = await store.activity()
    async with store.transaction() as tx:
        await tx.add_application(
            Application(
                id="a1",
                user_uri="toshm@contoso.com",
                endpoint_id="e1",
                user_agent="t",
                culture="en-US",
                type="Application",
                comm_key="k1",
                created_at=0.0,
                last_request_at=0.0,
            )
        )
        await tx.add_session("s1", 0.0)
    after = await store.activity()
    assert (after.applications - before.applications, after.conversations - before.conversations) == (1, 1)


def test_known_revisions() -> None:
    assert known_revision(head_revision()) and known_revision("0001")
    assert not known_revision("ffff") and not known_revision("")


async def test_an_open_store_holds_off_a_restore(tmp_path: Path) -> None:
    backup = tmp_path / "copy.sqlite3"
    live = tmp_path / "live"
    store = await open_store(None, str(live))
    db = live / "openucwa.sqlite3"
    try:
        assert files.backup(db, backup) == head_revision()
        with pytest.raises(files.InUseError):
            files.restore(backup, db)
    finally:
        await store.close()
    revision, kept = files.restore(backup, db)
    assert revision == head_revision() and kept is not None and kept.exists()
    with files._exclusive(db), pytest.raises(Exception, match="being restored"):
        await open_store(None, str(live))  # nothing opens the file mid-restore


def test_restore_refuses_what_is_not_an_openucwa_database(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    target = tmp_path / "data" / "openucwa.sqlite3"
    for bad, why in ((text, "not an SQLite database"), (other, "not an OpenUCWA database")):
        with pytest.raises(files.BackupError, match=why):
            files.restore(bad, target)
    assert not target.exists()
