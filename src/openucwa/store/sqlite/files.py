"""The database file as an operator handles it: who has it open, online backups, restores.

Occupancy: every process that opens the store (a server, an ``openucwa user …`` command) holds a
shared ``flock`` on ``<database>.lock`` for as long as it has the file open; a restore takes it
exclusively, so it refuses while anything uses the database and nothing opens it mid-restore. The
kernel drops the lock when a process dies, even by ``kill -9``.

Backup: SQLite's online backup API copies a consistent snapshot (one read transaction, which in WAL
mode never holds up the server's writers) into a new file, which is then checked and switched to a
single-file journal so the copy is one self-contained file. Everything the server committed before
the copy began is in it, so every message answered 201 before then is.

Restore: the file is checked first (an SQLite database, intact, with an OpenUCWA schema at a known
migration); the current database and its ``-wal``/``-shm`` are kept beside it under a dated name
(an old WAL must never meet the new file), and the copy takes their place. A backup from an older
release is upgraded by the server's usual migration when it starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from ..sql.ops import VERSION_TABLE, known_revision

_SIDE_FILES = ("-wal", "-shm")
_REQUIRED_TABLES = frozenset({VERSION_TABLE, "users", "applications", "messages"})


class BackupError(Exception):
    """The operation cannot be done; the message says why in one line."""


class InUseError(BackupError):
    """Another process has the database open."""


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


def hold_shared(db: Path) -> int:
    """Opens and share-locks the occupancy lock; the caller closes the returned fd when done."""
    fd = os.open(lock_path(db), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise InUseError(f"{db} is being restored; try again when the restore has finished") from None
    return fd


@contextlib.contextmanager
def _exclusive(db: Path) -> Iterator[None]:
    db.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(db), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InUseError(
                f"{db} is in use by a running server or another openucwa command: stop it first"
            ) from None
        yield
    finally:
        os.close(fd)


def _read_only(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def inspect(path: Path) -> str:
    """The migration revision of an intact OpenUCWA database file; BackupError otherwise."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        conn = _read_only(path)
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            missing = _REQUIRED_TABLES - tables
            if check is None or check[0] != "ok":
                raise BackupError(f"{path}: damaged ({check[0] if check else 'no answer'})")
            if missing:
                raise BackupError(f"{path}: not an OpenUCWA database (no {', '.join(sorted(missing))})")
            row = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not an SQLite database ({exc})") from None
    if row is None or not known_revision(str(row[0])):
        found = row[0] if row else "none"
        raise BackupError(f"{path}: schema revision {found} is not one this release knows")
    return str(row[0])


def _copy(source: sqlite3.Connection, dest: Path) -> None:
    """``source`` into a new single-file database at ``dest`` (written beside it, then renamed)."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # holds password hashes
    os.close(fd)
    try:
        target = sqlite3.connect(tmp)
        try:
            source.backup(target)  # the whole database in one step: one consistent snapshot
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
        finally:
            target.close()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def backup(db: Path, dest: Path) -> str:
    """Copies the live database ``db`` to ``dest``; returns the copy's schema revision."""
    if not db.is_file():
        raise BackupError(f"{db}: no database there")
    if dest.resolve() == db.resolve():
        raise BackupError("the backup file must not be the database itself")
    fd = hold_shared(db)  # no restore may replace the file while we read it
    try:
        source = _read_only(db)
        try:
            _copy(source, dest)
        except sqlite3.Error as exc:
            raise BackupError(f"backup of {db} failed: {exc}") from None
        finally:
            source.close()
    finally:
        os.close(fd)
    return inspect(dest)


def restore(file: Path, db: Path) -> tuple[str, Path | None]:
    """Puts backup ``file`` in place of ``db``; returns its revision and where the old one went."""
    revision = inspect(file)
    with _exclusive(db):
        kept = None
        if db.exists():
            kept = db.with_name(f"{db.name}.before-restore-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
            for suffix in ("", *_SIDE_FILES):
                side = Path(str(db) + suffix)
                if side.exists():
                    side.rename(Path(str(kept) + suffix))
        else:
            for suffix in _SIDE_FILES:  # an orphaned WAL must not be applied to the restored file
                Path(str(db) + suffix).unlink(missing_ok=True)
        source = _read_only(file)
        try:
            _copy(source, db)
        finally:
            source.close()
    return revision, kept
