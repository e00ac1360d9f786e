"""Another process holding SQLite's write lock (finding of issue #10: the whole server froze for
up to the 5 s busy timeout, and P-GETs answered 500 "database is locked"). Now the loop keeps
serving, units retry without blocking it, and past their budget the answer is 503 + Retry-After."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from .conftest import SARA, InProcessFactory


async def test_a_held_write_lock_neither_freezes_the_server_nor_fails_with_500(
    in_process: InProcessFactory, tmp_path: Path
) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        events = s.link("events")
        other = sqlite3.connect(tmp_path / "openucwa.sqlite3", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # as the CLI or an operator's sqlite3 shell would
            waiting = asyncio.create_task(s.get(s.self_href))
            # meanwhile the loop answers what needs no database, at once
            root = await asyncio.wait_for(srv.http.get("/", headers={"Accept": "application/json"}), 1.0)
            assert root.status_code == 200 and not waiting.done()
            busy = await asyncio.wait_for(waiting, 10)
            assert busy.status_code == 503, busy.text
            assert busy.headers["retry-after"] == "1" and busy.json()["code"] == "ServiceUnavailable"
            pget = await asyncio.wait_for(s.get(events), 10)
            assert pget.status_code == 503, pget.text
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert (await s.get(s.self_href)).status_code == 200  # the lock is gone: business as usual


async def test_a_briefly_held_lock_is_waited_for(in_process: InProcessFactory, tmp_path: Path) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        other = sqlite3.connect(tmp_path / "openucwa.sqlite3", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        request = asyncio.create_task(s.get(s.self_href))
        await asyncio.sleep(0.05)  # the real lock is held for a while: that is what is tested
        other.execute("COMMIT")
        other.close()
        assert (await asyncio.wait_for(request, 10)).status_code == 200
