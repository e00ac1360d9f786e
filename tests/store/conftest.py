"""Backends for the store contract suite: a SQLite file and, when reachable, a real PostgreSQL.

Each PostgreSQL test gets a database of its own, created from the maintenance database ``test``
and dropped afterwards, so tests never see each other's rows or schema.
"""

from __future__ import annotations

import getpass
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from openucwa.core.models import User
from openucwa.store import SqlStore, open_store
from openucwa.store.sqlite import SqliteStore

PG_HOST, PG_PORT, PG_MAINTENANCE_DB = "127.0.0.1", 5432, "test"
_pg_probe: dict[str, str] = {}  # "user" once a role worked, "error" once every role failed


async def _maintenance_connection() -> tuple[asyncpg.Connection, str]:
    """Trust auth: whichever of the OS user and ``postgres`` exists as a role."""
    if "error" in _pg_probe:
        pytest.skip(_pg_probe["error"])
    users = (
        [_pg_probe["user"]] if "user" in _pg_probe else list(dict.fromkeys([getpass.getuser(), "postgres"]))
    )
    errors: list[str] = []
    for user in users:
        try:
            conn = await asyncpg.connect(
                host=PG_HOST, port=PG_PORT, user=user, database=PG_MAINTENANCE_DB, timeout=5
            )
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            errors.append(f"{user}: {exc!r}")
            continue
        _pg_probe["user"] = user
        return conn, user
    _pg_probe["error"] = f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}: {'; '.join(errors)}"
    pytest.skip(_pg_probe["error"])


@asynccontextmanager
async def _postgres_database() -> AsyncIterator[str]:
    conn, user = await _maintenance_connection()
    name = f"openucwa_test_{uuid.uuid4().hex[:12]}"
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{name}"
        finally:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL for an empty database of the requested backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'store.sqlite3'}"
    else:
        async with _postgres_database() as url:
            yield url


@pytest.fixture
async def store(database_url: str, tmp_path: Path) -> AsyncIterator[SqlStore]:
    """A migrated store, closed (engine disposed) after the test."""
    opened = await open_store(database_url, str(tmp_path))
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """A SQLite store of its own with Lene in it, for what only SQLite does (group commit, cache)."""
    opened = await open_store(None, str(tmp_path))
    assert isinstance(opened, SqliteStore)
    async with opened.transaction() as tx:
        await tx.add_user(
            User(
                uri="lenea@contoso.com",
                name="Lene",
                password_hash="$argon2id$x",
                id="account-lenea@contoso.com",
            )
        )
    try:
        yield opened
    finally:
        await opened.close()
