"""The ``openucwa`` command as an operator runs it: a subprocess, exit codes, and one-line errors.

User commands run against a SQLite file in a temporary --data-dir and, when reachable, against a
fresh PostgreSQL database of their own (``--database-url``). Effects are checked in-process through
the same store (``openucwa.cli.services``), e.g. a changed password really authenticates.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from openucwa.actions import users
from openucwa.cli import services
from tests.conftest import PG_ADMIN_DSN, pg_unreachable

ADDRESS = "lenea@contoso.com"


def cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUCWA_")}
    return subprocess.run(
        [sys.executable, "-m", "openucwa", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
        env={**base_env, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})},
    )


def assert_ok(r: subprocess.CompletedProcess[str]) -> None:
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stderr == ""


def assert_one_error_line(r: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Non-zero, no traceback, and exactly one line on stderr: ``error: <what went wrong>``."""
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_args(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    """The store options of every user command: a data dir, plus a database URL for PostgreSQL."""
    args = ["--data-dir", str(tmp_path / "data")]
    if request.param == "sqlite":
        yield args
        return
    if reason := pg_unreachable():
        pytest.skip(reason)
    name = f"openucwa_cli_{secrets.token_hex(6)}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield [*args, "--database-url", f"postgresql://127.0.0.1:5432/{name}"]
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def can_sign_in(store_args: list[str], address: str, password: str) -> bool:
    async def go() -> bool:
        async with services(
            str(_option(store_args, "--data-dir")), _option(store_args, "--database-url")
        ) as svc:
            return await users.authenticate(svc, address, password) is not None

    return asyncio.run(go())


def add(
    store_args: list[str], address: str = ADDRESS, password: str = "pw"
) -> subprocess.CompletedProcess[str]:
    return cli("user", "add", address, "--name", "Lene Aaling", "--password", password, *store_args)


# -- user commands, on both backends -------------------------------------------------------------------


def test_user_lifecycle(store_args: list[str]) -> None:
    r = add(store_args)
    assert_ok(r)
    assert r.stdout.strip() == "added sip:lenea@contoso.com (Lene Aaling)"
    assert can_sign_in(store_args, ADDRESS, "pw")

    r = cli("user", "list", *store_args)
    assert_ok(r)
    assert "sip:lenea@contoso.com" in r.stdout and "Lene Aaling" in r.stdout

    r = cli("user", "passwd", ADDRESS, "--password", "new-secret", *store_args)
    assert_ok(r)
    assert r.stdout.strip() == "password changed for lenea@contoso.com"
    assert can_sign_in(store_args, ADDRESS, "new-secret")
    assert not can_sign_in(store_args, ADDRESS, "pw")

    r = cli("user", "remove", ADDRESS, *store_args)
    assert_ok(r)
    assert r.stdout.strip() == "removed lenea@contoso.com"
    assert "lenea@contoso.com" not in cli("user", "list", *store_args).stdout
    assert not can_sign_in(store_args, ADDRESS, "new-secret")


def test_adding_a_user_twice_fails_with_one_line(store_args: list[str]) -> None:
    assert_ok(add(store_args))
    assert_one_error_line(add(store_args, "LeneA@Contoso.com"), "already exists", "lenea@contoso.com")
    assert can_sign_in(store_args, ADDRESS, "pw")  # the first account is untouched


def test_removing_or_changing_an_unknown_user_fails_with_one_line(store_args: list[str]) -> None:
    assert_one_error_line(cli("user", "remove", "nobody@contoso.com", *store_args), "no such user")
    r = cli("user", "passwd", "nobody@contoso.com", "--password", "x", *store_args)
    assert_one_error_line(r, "no such user", "nobody@contoso.com")


# -- user commands: input errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["user", "add", "not-an-address", "--name", "X", "--password", "pw"],
        ["user", "remove", "not-an-address"],
        ["user", "passwd", "not-an-address", "--password", "pw"],
    ],
    ids=["add", "remove", "passwd"],
)
def test_an_invalid_address_fails_with_one_line(command: list[str], tmp_path: Path) -> None:
    assert_one_error_line(cli(*command, "--data-dir", str(tmp_path)), "not a user address", "not-an-address")


def test_an_empty_password_fails_with_one_line(tmp_path: Path) -> None:
    r = cli("user", "add", ADDRESS, "--name", "X", "--password", "", "--data-dir", str(tmp_path))
    assert_one_error_line(r, "password")
    r = cli("user", "add", ADDRESS, "--name", "X", "--data-dir", str(tmp_path), stdin="")
    assert_one_error_line(r, "no password given")


def test_the_password_may_come_from_stdin_or_the_environment(tmp_path: Path) -> None:
    args = ["--data-dir", str(tmp_path)]
    assert_ok(cli("user", "add", ADDRESS, "--name", "Lene Aaling", *args, stdin="from-stdin\n"))
    assert can_sign_in(args, ADDRESS, "from-stdin")
    assert_ok(cli("user", "passwd", ADDRESS, *args, env={"OPENUCWA_PASSWORD": "from-env"}))
    assert can_sign_in(args, ADDRESS, "from-env")


def test_an_unsupported_database_url_fails_with_one_line(tmp_path: Path) -> None:
    r = cli("user", "list", "--data-dir", str(tmp_path), "--database-url", "bogus://x")
    assert_one_error_line(r, "database_url", "bogus://x")


def test_an_unreachable_database_fails_with_one_line(tmp_path: Path) -> None:
    port = _closed_port()
    r = cli("user", "list", "--data-dir", str(tmp_path), "--database-url", f"postgresql://127.0.0.1:{port}/x")
    assert_one_error_line(r, "cannot reach the database")


# -- serve --------------------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_on_a_port_in_use_fails_with_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        r = cli("serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(tmp_path))
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    # uvicorn's own INFO lines may surround it, but exactly one line says what went wrong
    errors = [line for line in r.stderr.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1, r.stderr
    assert "address already in use" in errors[0] and str(port) in errors[0], errors[0]


@pytest.mark.parametrize("what", ["database", "redis"])
def test_serve_with_an_unreachable_backend_fails_with_one_clear_line(what: str, tmp_path: Path) -> None:
    """An operator's most likely mistake at start-up: one line naming it, not a driver traceback."""
    closed = _closed_port()
    option = (
        ["--database-url", f"postgresql://127.0.0.1:{closed}/x"]
        if what == "database"
        else ["--redis-url", f"redis://127.0.0.1:{closed}/0"]
    )
    port = _closed_port()
    r = cli("serve", "--port", str(port), "--data-dir", str(tmp_path), "--log-level", "warning", *option)
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    errors = [line for line in r.stderr.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1, r.stderr[-2000:]
    assert str(closed) in errors[0] or what in errors[0].lower(), errors[0]


def test_serve_rejects_an_invalid_setting_with_one_line(tmp_path: Path) -> None:
    assert_one_error_line(cli("serve", "--port", "0", "--data-dir", str(tmp_path)), "port")
    r = cli("serve", "--data-dir", str(tmp_path), "--redis-url", "http://x")
    assert_one_error_line(r, "redis_url")


# -- help ---------------------------------------------------------------------------------------------------


def test_help_lists_the_commands() -> None:
    r = cli("--help")
    assert_ok(r)
    assert "serve" in r.stdout and "user" in r.stdout
    r = cli("user", "--help")
    assert_ok(r)
    for command in ("add", "list", "remove", "passwd"):
        assert command in r.stdout


def test_no_arguments_prints_the_usage() -> None:
    r = cli()
    assert "Usage" in r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
