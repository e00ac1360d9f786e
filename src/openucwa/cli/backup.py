"""``openucwa backup FILE`` and ``openucwa restore FILE``.

SQLite: an online, consistent copy while the server runs, and a restore that refuses while
anything has the database open (``store/sqlite/files.py``). PostgreSQL: ``pg_dump`` does the same
job better than we could, so ``backup`` runs it when it is installed and otherwise says how;
``restore`` only says how, since replacing a shared database is a decision for its operator.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from .output import fail
from .server_commands import DatabaseUrl, DataDir

PG_RESTORE_HELP = (
    "stop every openucwa server using it, then: pg_restore --clean --if-exists --no-owner "
    "--dbname postgresql://USER@HOST/DB {file}"
)


def _sqlite_path(data_dir: str, database_url: str | None) -> Path | None:
    """The SQLite file the settings designate, or None for PostgreSQL (same rules as open_store)."""
    import sqlalchemy as sa

    from ..config import SettingsError, from_env

    try:
        settings = from_env(data_dir=data_dir, database_url=database_url)
    except SettingsError as exc:
        fail(str(exc))
    url = settings.database_url
    if url is None:
        return Path(settings.data_dir).expanduser() / "openucwa.sqlite3"
    if url.startswith(("sqlite://", "sqlite+aiosqlite://")):
        return Path(sa.make_url(url).database or "").expanduser()
    return None


def _libpq_url(url: str) -> str:
    """pg_dump speaks libpq: no SQLAlchemy driver suffix."""
    scheme, sep, rest = url.partition("://")
    return ("postgresql" if scheme.startswith("postgres") else scheme) + sep + rest


def backup(
    file: Annotated[str, typer.Argument(help="Where to write the copy (a new file).")],
    data_dir: DataDir = "./data",
    database_url: DatabaseUrl = None,
) -> None:
    """Copy the database while the server runs (SQLite: online backup; PostgreSQL: pg_dump)."""
    from ..store.sqlite.files import BackupError
    from ..store.sqlite.files import backup as sqlite_backup

    db = _sqlite_path(data_dir, database_url)
    if db is None:
        url = _libpq_url(database_url or "")
        if shutil.which("pg_dump") is None:
            fail(
                "PostgreSQL databases are backed up with pg_dump (not installed here): "
                f"pg_dump --format=custom --file {file} --dbname postgresql://USER@HOST/DB"
            )
        done = subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", "--file", file, "--dbname", url],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            fail(f"pg_dump failed: {(done.stderr.strip().splitlines() or ['no message'])[-1]}")
        typer.echo(f"backed up the PostgreSQL database to {file} (pg_dump custom format)")
        return
    try:
        revision = sqlite_backup(db, Path(file))
    except BackupError as exc:
        fail(str(exc))
    typer.echo(f"backed up {db} to {file} (schema {revision})")


def restore(
    file: Annotated[str, typer.Argument(help="A file made by `openucwa backup`.")],
    data_dir: DataDir = "./data",
    database_url: DatabaseUrl = None,
) -> None:
    """Replace the database with a backup; the server (and any openucwa command) must be stopped."""
    from ..store.sqlite.files import BackupError
    from ..store.sqlite.files import restore as sqlite_restore

    db = _sqlite_path(data_dir, database_url)
    if db is None:
        fail("PostgreSQL databases are restored with pg_restore: " + PG_RESTORE_HELP.format(file=file))
    try:
        revision, kept = sqlite_restore(Path(file), db)
    except BackupError as exc:
        fail(str(exc))
    typer.echo(f"restored {file} (schema {revision}) into {db}")
    if kept is not None:
        typer.echo(f"the previous database is kept as {kept}")


def register(app: typer.Typer) -> None:
    app.command()(backup)
    app.command()(restore)
