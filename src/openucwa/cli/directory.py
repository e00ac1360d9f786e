"""``openucwa directory …``: sync the company directory now, or show what it says about one user.

Its own Typer app, registered by ``cli.py`` in one line. Settings come from ``OPENUCWA_LDAP_*``
variables (as the server reads them) and the flags below; passwords are never printed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import typer

directory_app = typer.Typer(help="The company directory (LDAP / Active Directory).", no_args_is_help=True)

DataDir = Annotated[str, typer.Option("--data-dir", help="Directory of the SQLite database.")]
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help="postgresql://… or sqlite:///path.")]
LdapUrl = Annotated[
    list[str] | None, typer.Option("--ldap-url", help="ldap:// or ldaps:// URL (repeatable, tried in order).")
]
BindDn = Annotated[str | None, typer.Option("--ldap-bind-dn", help="Service account DN.")]
PasswordFile = Annotated[
    str | None, typer.Option("--ldap-bind-password-file", help="File holding the service account's password.")
]
UserBase = Annotated[str | None, typer.Option("--ldap-user-base", help="Where people are searched.")]
Schema = Annotated[str | None, typer.Option("--ldap-schema", help="Attribute map: ad or openldap.")]


def _settings(**overrides: Any) -> Any:
    from ..config import from_env

    return from_env(**overrides)


@asynccontextmanager
async def _services(settings: Any) -> AsyncIterator[Any]:
    from ..actions.directory import open_directory
    from .server_commands import services

    directory = open_directory(settings)
    if directory is None:
        raise _Fail(
            "no directory configured: set OPENUCWA_LDAP_URL and OPENUCWA_LDAP_USER_BASE (or the flags)"
        )
    async with services(settings.data_dir, settings.database_url) as svc:
        yield dataclasses.replace(svc, settings=settings, directory=directory)


class _Fail(Exception):
    pass


def _run(go: Any) -> None:
    import asyncio

    from ..config import SettingsError
    from ..directory.errors import DirectoryUnavailable
    from .output import fail

    try:
        asyncio.run(go())
    except (_Fail, SettingsError, ValueError) as exc:
        fail(str(exc))
    except DirectoryUnavailable as exc:
        fail(f"the directory cannot be reached: {exc}")
    except OSError as exc:
        fail(f"cannot reach the database: {exc}")


def _overrides(
    data_dir: str,
    database_url: str | None,
    ldap_url: list[str] | None,
    bind_dn: str | None,
    password_file: str | None,
    user_base: str | None,
    schema: str | None,
) -> dict[str, Any]:
    return {
        "data_dir": data_dir,
        "database_url": database_url,
        "ldap_url": tuple(ldap_url) if ldap_url else None,
        "ldap_bind_dn": bind_dn,
        "ldap_bind_password_file": password_file,
        "ldap_user_base": user_base,
        "ldap_schema": schema,
    }


@directory_app.command("sync")
def sync(
    data_dir: DataDir = "./data",
    database_url: DatabaseUrl = None,
    ldap_url: LdapUrl = None,
    bind_dn: BindDn = None,
    password_file: PasswordFile = None,
    user_base: UserBase = None,
    schema: Schema = None,
) -> None:
    """Bring the accounts in line with the directory now: newcomers in, changes applied, leavers out."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    from ..actions import directory as actions

    async def go() -> None:
        settings = _settings(
            **_overrides(data_dir, database_url, ldap_url, bind_dn, password_file, user_base, schema)
        )
        async with _services(settings) as svc:
            columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
            with Progress(*columns, transient=True) as bar:
                task = bar.add_task("reading the directory", total=None)
                report = await actions.sync(svc, svc.directory, lambda n: bar.advance(task, n))
        typer.echo(
            f"{report.added} added, {report.updated} updated, {report.disabled} disabled, "
            f"{report.unchanged} unchanged, {report.skipped} skipped, {report.groups} distribution groups"
        )
        for problem in report.problems:
            typer.echo(f"skipped: {problem}")
        if report.more_problems:
            typer.echo(f"skipped: {report.more_problems} more entries like these")

    _run(go)


@directory_app.command("check")
def check(
    user: Annotated[str, typer.Argument(help="A login name: lenea@contoso.com, sip:…, or CONTOSO\\lenea.")],
    data_dir: DataDir = "./data",
    database_url: DatabaseUrl = None,
    ldap_url: LdapUrl = None,
    bind_dn: BindDn = None,
    password_file: PasswordFile = None,
    user_base: UserBase = None,
    schema: Schema = None,
) -> None:
    """Show what the server would see for one user (no password asked, nothing changed)."""
    from ..directory.client import Directory, DirectoryConfig
    from ..directory.login import login_filter, parse_login

    async def go() -> None:
        settings = _settings(
            **_overrides(data_dir, database_url, ldap_url, bind_dn, password_file, user_base, schema)
        )
        config = DirectoryConfig.from_settings(settings)
        if config is None:
            raise _Fail(
                "no directory configured: set OPENUCWA_LDAP_URL and OPENUCWA_LDAP_USER_BASE (or the flags)"
            )
        login = parse_login(user, config.netbios_domain)
        if login is None:
            raise _Fail(
                f"{user!r} is not a login name the server accepts "
                f"(user@domain, sip:user@domain or {config.netbios_domain or 'DOMAIN'}\\user"
                + ("" if config.netbios_domain else " with OPENUCWA_LDAP_NETBIOS_DOMAIN set")
                + ")"
            )
        typer.echo(f"directory: {', '.join(config.urls)}  base: {config.user_base}")
        typer.echo(f"filter:    {login_filter(login, config.attributes, config.user_filter)}")
        person = await Directory(config).find(login)
        if person is None:
            raise _Fail("no entry (or more than one) matches: this name cannot sign in")
        rows = [
            ("dn", person.dn),
            ("sip uri", f"sip:{person.uri}"),
            ("name", person.name),
            ("e-mail", person.email),
            ("upn", person.upn),
            ("login", person.login),
            ("title", person.title),
            ("department", person.department),
            ("company", person.company),
            ("office", person.office),
            ("phone", person.work_phone),
            ("photo", f"{len(person.photo)} bytes" if person.photo else None),
            ("groups", "; ".join(person.member_of) or None),
            ("may sign in", "yes" if person.enabled else f"no ({person.why_disabled})"),
        ]
        for key, value in rows:
            typer.echo(f"{key + ':':<12} {value if value is not None else '-'}")

    _run(go)
