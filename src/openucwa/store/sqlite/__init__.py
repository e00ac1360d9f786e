"""SQLite: one file, one connection, one writer at a time.

SQLite allows a single writer, so instead of letting transactions collide ("database is locked")
the store runs them one after another behind an asyncio.Lock over a single pooled connection, and
lets those that run together share a COMMIT (``SqliteStore``). ``BEGIN IMMEDIATE`` takes the write
lock up front, so a second process (e.g. the CLI) waits on busy_timeout instead of failing on a
read-to-write upgrade, and reads inside a transaction are repeatable (the sqlite3 module's legacy
mode would run them outside any transaction).

``engine`` opens the file (pragmas, ``BEGIN IMMEDIATE``); ``store`` holds ``SqliteStore`` and its
units of work; ``tx`` holds ``SqliteTx``, which runs the hot statements through ``statements``
(compiled once, run on sqlite3 directly) and keeps applications in the ``cache``.
"""

from __future__ import annotations

from .engine import open_sqlite
from .store import SqliteStore

__all__ = ["SqliteStore", "open_sqlite"]
