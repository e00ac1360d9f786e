"""The operator side of the ``openucwa`` command: users, contacts, photos, demo data (``serve`` is
in ``cli/serve.py``).

Each command imports what it needs inside its body, so ``openucwa --help`` stays fast and the
client commands never pull in the server. Errors print one line and exit non-zero.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import typer

from .output import fail

app = typer.Typer(
    help="OpenUCWA: a self-hosted UCWA 2.0 server, SDK and CLI.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")
contact_app = typer.Typer(help="Manage users' contact lists.", no_args_is_help=True)
app.add_typer(contact_app, name="contact")

T = TypeVar("T")
DataDir = Annotated[str, typer.Option("--data-dir", help="Directory of the SQLite database.")]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="postgresql://… or sqlite:///path (default: SQLite in --data-dir)."),
]

DEMO_USERS = (
    ("toshm@contoso.com", "Tosh Meston", "toshm-password"),
    ("lenea@contoso.com", "Lene Aaling", "lenea-password"),
)


def run(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    from ..actions.users import UserError
    from ..config import SettingsError
    from ..core.errors import UcwaError

    try:
        return asyncio.run(coro_fn())
    except (UserError, SettingsError) as exc:
        fail(str(exc))
    except UcwaError as exc:  # e.g. the server kept the database busy past the store's budget
        fail(exc.message)
    except OSError as exc:
        fail(f"cannot reach the database: {exc}")
    raise AssertionError("unreachable")


@asynccontextmanager
async def services(data_dir: str, database_url: str | None) -> AsyncIterator[Any]:
    """A store-only Services for operator commands (no server of its own).

    With ``OPENUCWA_REDIS_URL`` set, what a command changes wakes the servers' held requests over
    Redis at once, as a server's own changes do; without it (or with Redis unreachable) the servers
    notice by themselves within a second (``actions.revocation``).
    """
    from ..actions.services import Services
    from ..bus.local import LocalBus
    from ..bus.notifier import Notifier
    from ..config import from_env
    from ..store import open_store

    settings = from_env(data_dir=data_dir, database_url=database_url)
    try:
        store = await open_store(settings.database_url, settings.data_dir)
    except Exception as exc:  # driver errors differ per backend; the operator needs one line
        raise OSError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc
    notifier = Notifier()
    bus: Any = LocalBus(notifier)
    if settings.redis_url:
        from ..bus.redis import RedisBus

        redis_bus = RedisBus(settings.redis_url, notifier)
        try:
            await redis_bus.start()
            bus = redis_bus
        except Exception as exc:  # the change itself needs only the database
            await redis_bus.close()
            typer.echo(f"warning: Redis unreachable ({exc}); servers will notice within a second", err=True)
    try:
        yield Services(store=store, bus=bus, notifier=notifier, settings=settings)
    finally:
        await bus.close()
        await store.close()


def read_password(given: str | None) -> str:
    if given is not None:
        return given
    env = os.environ.get("OPENUCWA_PASSWORD")
    if env:
        return env
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\n")
        if line:
            return line
        fail("no password given (use --password, OPENUCWA_PASSWORD or standard input)")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        fail("the passwords differ")
    return first


@user_app.command("add")
def user_add(
    address: Annotated[str, typer.Argument(help="user@domain, e.g. lenea@contoso.com")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    password: Annotated[str | None, typer.Option("--password", help="Password (else prompt).")] = None,
    email: Annotated[str | None, typer.Option(help="E-mail address (default: the address).")] = None,
    data_dir: DataDir = "./data",
    database_url: DatabaseUrl = None,
) -> None:
    """Create a user account."""
    from ..actions import users

    pw = read_password(password)

    async def go() -> None:
        async with services(data_dir, database_url) as svc:
            user = await users.add_user(svc, address, name, pw, email)
            typer.echo(f"added sip:{user.uri} ({user.name})")

    run(go)


@user_app.command("list")
def user_list(data_dir: DataDir = "./data", database_url: DatabaseUrl = None) -> None:
    """List user accounts."""
    from rich.console import Console
    from rich.table import Table

    from ..actions import users

    async def go() -> list[Any]:
        async with services(data_dir, database_url) as svc:
            return await users.list_users(svc)

    rows = run(go)
    table = Table("SIP URI", "Name", "E-mail")
    for u in rows:
        table.add_row(f"sip:{u.uri}", u.name, u.email or "")
    Console().print(table)


@user_app.command("remove")
def user_remove(
    address: Annotated[str, typer.Argument(help="user@domain")],
    data_dir: DataDir = "./data",
    database_url: DatabaseUrl = None,
) -> None:
    """Remove a user account and its tokens."""
    from ..actions import users

    async def go() -> None:
        async with services(data_dir, database_url) as svc:
            await users.remove_user(svc, address)

    run(go)
    typer.echo(f"removed {address}")


@user_app.command("passwd")
def user_passwd(
    address: Annotated[str, typer.Argument(help="user@domain")],
    password: Annotated[str | None, typer.Option("--password", help="New password (else prompt).")] = None,
    data_dir: DataDir = "./data",
    database_url: DatabaseUrl = None,
) -> None:
    """Set a user's password."""
    from ..actions import users

    pw = read_password(password)

    async def go() -> None:
        async with services(data_dir, database_url) as svc:
            await users.set_password(svc, address, pw)

    run(go)
    typer.echo(f"password changed for {address}")


@user_app.command("photo")
def user_photo(
    address: Annotated[str, typer.Argument(help="user@domain")],
    file: Annotated[str, typer.Argument(help="A JPEG file.")],
    data_dir: DataDir = "./data",
    database_url: DatabaseUrl = None,
) -> None:
    """Set a user's photo (JPEG), served to everyone who sees the user."""
    from ..actions import people
    from ..actions.users import UserError

    try:
        with open(file, "rb") as fh:
            data = fh.read(people.PHOTO_MAX + 1)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")

    async def go() -> None:
        async with services(data_dir, database_url) as svc:
            try:
                await people.set_photo(svc, address, data)
            except ValueError as exc:
                raise UserError(str(exc)) from None

    run(go)
    typer.echo(f"photo set for {address}")


GroupOption = Annotated[
    str | None, typer.Option("--group", help='Group name (default "Other Contacts"; "Pinned Contacts").')
]


@contact_app.command("add")
def contact_add(
    owner: Annotated[str, typer.Argument(help="Whose contact list, user@domain")],
    contact: Annotated[str, typer.Argument(help="The contact, user@domain")],
    group: GroupOption = None,
    data_dir: DataDir = "./data",
    database_url: DatabaseUrl = None,
) -> None:
    """Add a contact to a user's contact list (a new group name creates the group)."""
    from ..actions import people

    async def go() -> str:
        async with services(data_dir, database_url) as svc:
            return await people.add_contact(svc, owner, contact, group)

    name = run(go)
    typer.echo(f"added {contact} to {owner}'s group {name!r}")


@contact_app.command("remove")
def contact_remove(
    owner: Annotated[str, typer.Argument(help="Whose contact list, user@domain")],
    contact: Annotated[str, typer.Argument(help="The contact, user@domain")],
    group: Annotated[str | None, typer.Option("--group", help="Only from this group (default: all).")] = None,
    data_dir: DataDir = "./data",
    database_url: DatabaseUrl = None,
) -> None:
    """Remove a contact from one group of a user's contact list, or from all of them."""
    from ..actions import people

    async def go() -> int:
        async with services(data_dir, database_url) as svc:
            return await people.remove_contact(svc, owner, contact, group)

    run(go)
    typer.echo(f"removed {contact} from {owner}'s contacts")


@contact_app.command("list")
def contact_list(
    owner: Annotated[str, typer.Argument(help="Whose contact list, user@domain")],
    data_dir: DataDir = "./data",
    database_url: DatabaseUrl = None,
) -> None:
    """List a user's contacts by group."""
    from rich.console import Console
    from rich.table import Table

    from ..actions import people

    async def go() -> list[Any]:
        async with services(data_dir, database_url) as svc:
            return await people.list_contacts(svc, owner)

    rows = run(go)
    table = Table("Group", "SIP URI", "Name")
    for group_name, u in rows:
        table.add_row(group_name, f"sip:{u.uri}", u.name)
    Console().print(table)


@app.command()
def demo(data_dir: DataDir = "./data", database_url: DatabaseUrl = None) -> None:
    """Create the demo users (once) and print how to sign in."""
    from ..actions import users

    async def go() -> None:
        async with services(data_dir, database_url) as svc:
            existing = {u.uri for u in await users.list_users(svc)}
            for uri, name, pw in DEMO_USERS:
                if uri not in existing:
                    await users.add_user(svc, uri, name, pw)

    run(go)
    typer.echo("Demo users (user / password):")
    for uri, name, pw in DEMO_USERS:
        typer.echo(f"  {uri:<20} {pw:<16} {name}")
    typer.echo(
        "Sign in: GET / (Accept: application/json), follow _links.user, then POST the token URL it names\n"
        "  e.g. curl -d 'grant_type=password&username=toshm@contoso.com&password=toshm-password' "
        "http://127.0.0.1:8080/WebTicket/oauthtoken"
    )
