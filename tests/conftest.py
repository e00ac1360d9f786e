"""Shared fixtures: real servers on loopback (SQLite file or PostgreSQL), seeded users, clients.

A server is a real ``openucwa serve`` subprocess on a free 127.0.0.1 port, so every e2e test
crosses a real socket, uvicorn and the real store.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

PG_ADMIN_DSN = os.environ.get("OPENUCWA_TEST_PG", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("OPENUCWA_TEST_REDIS", "redis://127.0.0.1:6379/0")
USERS = {
    "toshm@contoso.com": ("Tosh Meston", "tosh-secret"),
    "lenea@contoso.com": ("Lene Aaling", "lene-secret"),
    "sarad@contoso.com": ("Sara Davis", "sara-secret"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_unreachable() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return None
    except OSError as exc:
        return f"PostgreSQL not reachable at 127.0.0.1:5432: {exc}"


def redis_unreachable() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return None
    except OSError as exc:
        return f"Redis not reachable at 127.0.0.1:6379: {exc}"


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_pg_database() -> str:
    name = f"openucwa_e2e_{secrets.token_hex(6)}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    return name


def drop_pg_database(name: str) -> None:
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _seed(data_dir: str, database_url: str | None, users: dict[str, tuple[str, str]]) -> None:
    from openucwa.actions import users as actions_users
    from openucwa.cli import services

    async with services(data_dir, database_url) as svc:
        existing = {u.uri for u in await actions_users.list_users(svc)}
        for uri, (name, pw) in users.items():
            if uri not in existing:
                await actions_users.add_user(svc, uri, name, pw)


@dataclass
class Server:
    base: str
    data_dir: str
    database_url: str | None
    args: list[str]
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        assert self.log_path is not None
        env = {**os.environ, **self.extra_env}
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openucwa", "serve", *self.args, "--log-level", "warning"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                httpx.get(self.base + "/", timeout=0.5)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("server did not start in 20 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path else ""


@dataclass(frozen=True)
class Database:
    data_dir: str
    url: str | None


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres" and (reason := pg_unreachable()):
        pytest.skip(reason)
    return str(request.param)


@pytest.fixture(scope="session")
def database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One seeded database per backend for the whole session; tests use their own endpoint ids."""
    data_dir = str(tmp_path_factory.mktemp(f"data-{backend}"))
    name = create_pg_database() if backend == "postgres" else None
    db = Database(data_dir, f"postgresql://127.0.0.1:5432/{name}" if name else None)
    asyncio.run(_seed(db.data_dir, db.url, USERS))
    yield db
    if name:
        drop_pg_database(name)


def _start(db: Database, log_dir: Path, flags: tuple[str, ...], env: dict[str, str] | None) -> Server:
    port = free_port()
    args = ["--host", "127.0.0.1", "--port", str(port), "--data-dir", db.data_dir, *flags]
    if db.url:
        args += ["--database-url", db.url]
    srv = Server(
        f"http://127.0.0.1:{port}",
        db.data_dir,
        db.url,
        args,
        log_path=log_dir / f"server-{port}.log",
        extra_env=env or {},
    )
    srv.start()
    return srv


@pytest.fixture
def make_server(database: Database, tmp_path: Path) -> Iterator[object]:
    """``make_server(*flags, env=...)`` → a started node on the session database.

    Calling it twice gives two nodes sharing one database (scale-out tests).
    """
    started: list[Server] = []

    def factory(*flags: str, env: dict[str, str] | None = None) -> Server:
        srv = _start(database, tmp_path, flags, env)
        started.append(srv)
        return srv

    yield factory
    for srv in started:
        srv.stop()


@pytest.fixture(scope="session")
def server(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shared node of a backend, in the test profile (every event released at once)."""
    srv = _start(database, tmp_path_factory.mktemp("logs"), ("--no-event-aggregation",), None)
    yield srv
    srv.stop()


@pytest.fixture
def make_isolated_server(backend: str, tmp_path: Path) -> Iterator[object]:
    """``make_isolated_server(*flags, env=...)`` → a node on a database of its own, freshly seeded.

    For tests that shorten timers: every node runs the reaper over its whole database, so a node
    with other settings on a shared database would run those timers by its own clock.
    """
    started: list[Server] = []
    databases: list[str] = []

    def factory(*flags: str, env: dict[str, str] | None = None) -> Server:
        data_dir = tmp_path / f"isolated-{len(started)}"
        name = create_pg_database() if backend == "postgres" else None
        if name:
            databases.append(name)
        db = Database(str(data_dir), f"postgresql://127.0.0.1:5432/{name}" if name else None)
        asyncio.run(_seed(db.data_dir, db.url, USERS))
        srv = _start(db, tmp_path, flags, env)
        started.append(srv)
        return srv

    yield factory
    for srv in started:
        srv.stop()
    for name in databases:
        drop_pg_database(name)
