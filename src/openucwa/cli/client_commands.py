"""The client side of the ``openucwa`` command line: login, send, listen, chat, presence, contacts, search.

Imported by ``openucwa.cli`` at start-up, so this module imports only typer (and the SDK's error
classes, which import nothing) at module level; the SDK's sessions (httpx) and rich are imported
inside the commands.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from .output import BAD_RESPONSE, NOT_SIGNED_IN, emit, exit_code, fail

JsonOut = Annotated[bool, typer.Option("--json", help="One JSON object per line, for programs.")]
PRESENCE_STATES = ("Online", "Busy", "DoNotDisturb", "BeRightBack", "Away", "Offline")
USER_AGENT = "openucwa-cli"


@contextmanager
def errors(json_out: bool = False, **context: Any) -> Iterator[None]:
    """SDK errors become one ``error:`` line and the error's exit code (and a JSON line with --json)."""
    from ..client.errors import UcwaClientError

    try:
        yield
    except UcwaClientError as exc:
        if json_out:
            emit({**context, "ok": False, "error": type(exc).__name__, "message": exc.message})
        fail(exc.message, exit_code(exc))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # bad input or a malformed answer
        if json_out:
            emit({**context, "ok": False, "error": type(exc).__name__, "message": str(exc)})
        fail(f"unexpected input or response: {type(exc).__name__}: {exc}", BAD_RESPONSE)


def open_session(kind: str = "sync", **kw: Any) -> Any:
    """A session from the stored credentials (``openucwa login``); OPENUCWA_PASSWORD renews the token."""
    from . import credentials

    creds = credentials.load()
    if not creds:
        fail("not signed in: run `openucwa login SERVER --user USER` first", NOT_SIGNED_IN)
    from ..client.async_client import AsyncSession
    from ..client.sync_client import Session

    cls: type[Session | AsyncSession] = Session if kind == "sync" else AsyncSession
    session = cls(
        creds["server"],
        creds["user"],
        os.environ.get("OPENUCWA_PASSWORD") or None,
        token=creds["token"],
        user_href=creds.get("user_href"),
        user_agent=USER_AGENT,
        **kw,
    )
    return session


def remember_token(session: Any) -> None:
    """Store a token the SDK renewed (with OPENUCWA_PASSWORD) in place of the stored one."""
    from . import credentials

    creds = credentials.load()
    if creds and session.token and session.token != creds.get("token"):
        credentials.save({**creds, "token": session.token, "user_href": session.user_href})


def sigterm_as_interrupt() -> None:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


# -- commands --------------------------------------------------------------------------------------------


def login(
    server: Annotated[str, typer.Argument(help="Server URL (http://host:port/) or a domain (contoso.com).")],
    user: Annotated[str, typer.Option("--user", "-u", help="Your sign-in address, e.g. lenea@contoso.com.")],
) -> None:
    """Sign in and store the token in the config directory (password: prompt or OPENUCWA_PASSWORD)."""
    from ..client.sync_client import Session
    from . import credentials

    password = os.environ.get("OPENUCWA_PASSWORD") or typer.prompt("Password", hide_input=True)
    session = Session(server, user, password, user_agent=USER_AGENT)
    with errors():
        try:
            token = session.sign_in()
        finally:
            session.close()
    path = credentials.save(
        {"server": server, "user": user.removeprefix("sip:"), "user_href": session.user_href, "token": token}
    )
    typer.echo(f"signed in as {user.removeprefix('sip:')}; token stored in {path}")


def send(
    text: Annotated[str, typer.Argument(help="The message.")],
    to: Annotated[str, typer.Option("--to", help="Recipient, e.g. sip:lenea@contoso.com.")],
    subject: Annotated[str | None, typer.Option(help="Conversation subject.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for acceptance and delivery.")] = 60.0,
    json_out: JsonOut = False,
) -> None:
    """Send one IM; exit 0 only when it was delivered."""
    with errors(json_out, to=to):
        session = open_session(available=False, reconnect_window=min(timeout, 15.0))
        try:
            session.open()
            href = session.send_message(to, text, subject=subject, timeout=timeout)
        finally:
            session.close()
            remember_token(session)
    if json_out:
        emit({"to": to, "ok": True, "delivered": True, "message": href})
    else:
        typer.echo(f"delivered to {to}")


def run_reply_command(command: str, note: Any) -> str:
    """The bot hook: the message on stdin and in OPENUCWA_* variables; stdout is the answer."""
    env = {
        **os.environ,
        "OPENUCWA_FROM": note.from_uri or "",
        "OPENUCWA_NAME": note.from_name or "",
        "OPENUCWA_TEXT": note.text,
    }
    try:
        r = subprocess.run(
            command, shell=True, input=note.text, capture_output=True, text=True, env=env, timeout=120
        )
    except subprocess.TimeoutExpired:
        return "(the reply command timed out)"
    out: str = r.stdout.strip()
    if r.returncode != 0 and not out:
        out = f"(the reply command failed with exit code {r.returncode})"
    return out


def listen(
    json_out: JsonOut = False,
    reply_with: Annotated[
        str | None, typer.Option("--reply-with", help="Answer each message with this shell command's output.")
    ] = None,
    accept: Annotated[bool, typer.Option("--accept/--no-accept", help="Accept invitations.")] = True,
) -> None:
    """Print incoming messages (and accept invitations) until interrupted."""
    from rich.console import Console
    from rich.markup import escape

    from ..client.errors import DeliveryError
    from ..client.models import ConversationEnded, IncomingInvitation, IncomingMessage

    console = Console(highlight=False)
    sigterm_as_interrupt()
    with errors(json_out):
        session = open_session(reconnect_window=None, auto_accept=accept)
        try:
            session.open()
            typer.echo(f"listening as {session.core.username} (Ctrl-C to stop)", err=True)
            for note in session.listen():
                if isinstance(note, IncomingInvitation):
                    if json_out:
                        emit(
                            {
                                "type": "invitation",
                                "from": note.from_uri,
                                "name": note.from_name,
                                "subject": note.subject,
                                "accepted": accept,
                            }
                        )
                    else:
                        console.print(
                            f"[dim]{escape(note.from_name or note.from_uri or '?')} invited you"
                            f"{' (accepted)' if accept else ''}[/dim]"
                        )
                elif isinstance(note, IncomingMessage):
                    if json_out:
                        emit(
                            {
                                "type": "message",
                                "from": note.from_uri,
                                "name": note.from_name,
                                "text": note.text,
                                "conversation": note.conversation,
                                "time": note.time.isoformat() if note.time else None,
                            }
                        )
                    else:
                        when = note.time.astimezone().strftime("%H:%M") if note.time else "--:--"
                        who = escape(note.from_name or note.from_uri or "?")
                        console.print(f"[dim]{when}[/dim] [bold]{who}[/bold]: {escape(note.text)}")
                    if reply_with:
                        answer = run_reply_command(reply_with, note)
                        try:
                            if answer:
                                session.reply(note.conversation, answer)
                        except DeliveryError as exc:  # the sender left already: keep serving others
                            typer.echo(f"warning: could not answer {note.from_uri}: {exc.message}", err=True)
                elif isinstance(note, ConversationEnded):
                    if json_out:
                        emit({"type": "ended", "with": note.remote_uri, "conversation": note.conversation})
                    else:
                        console.print(f"[dim]conversation with {escape(note.remote_uri or '?')} ended[/dim]")
        except KeyboardInterrupt:
            pass
        finally:
            session.close()
            remember_token(session)


def chat(
    to: Annotated[str, typer.Argument(help="Who to chat with, e.g. sip:lenea@contoso.com.")],
) -> None:
    """Interactive chat: type a line and Enter to send; /history, /quit (or Ctrl-D)."""
    sigterm_as_interrupt()
    with errors():
        try:
            asyncio.run(_chat(to))
        except KeyboardInterrupt:
            pass


async def _chat(to: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    from ..client.errors import DeliveryError
    from ..client.flows import sip
    from ..client.models import ConversationEnded, IncomingMessage, Typing

    peer = sip(to)
    console = Console(highlight=False)
    session = open_session("async", reconnect_window=None)
    await session.open()
    try:
        console.print(
            f"[dim]chatting with {escape(peer)} as {session.core.username}; "
            "type a message and press Enter, /history to review, /quit to leave[/dim]"
        )

        async def incoming() -> None:
            async for note in session.listen():
                if isinstance(note, IncomingMessage):
                    when = note.time.astimezone().strftime("%H:%M") if note.time else "--:--"
                    who = escape(note.from_name or note.from_uri or "?")
                    console.print(f"[dim]{when}[/dim] [bold cyan]{who}[/bold cyan]: {escape(note.text)}")
                elif isinstance(note, Typing) and note.typing:
                    console.print(f"[dim italic]{escape(note.who or peer)} is typing…[/dim italic]")
                elif isinstance(note, ConversationEnded) and note.remote_uri == peer:
                    console.print(f"[dim]{escape(peer)} left the conversation[/dim]")

        reader = asyncio.create_task(incoming())
        try:
            while True:
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line:
                    break
                text = line.rstrip("\n")
                if not text.strip():
                    continue
                if text.strip() == "/quit":
                    break
                if text.strip() == "/history":
                    await show_history(session, peer, console)
                    continue
                if reader.done():
                    reader.result()  # surface the channel's error
                conv = session.core.state.find(peer)
                if conv is not None:
                    await session.set_typing(conv.href)
                try:
                    await session.send_message(peer, text)
                    console.print("[dim]✓ delivered[/dim]")
                except DeliveryError as exc:
                    console.print(f"[red]not delivered: {escape(exc.message)}[/red]")
        finally:
            reader.cancel()
            try:
                await reader
            except (asyncio.CancelledError, Exception):
                pass
    finally:
        conv = session.core.state.find(peer)
        if conv is not None:
            await session.stop(conv.href)
        await session.close()
        remember_token(session)


async def show_history(session: Any, peer: str, console: Any) -> None:
    """The server's history of the conversation when it offers one, else what this session saw."""
    from rich.markup import escape

    from ..client.errors import NotOffered
    from ..client.models import message_text

    conv = session.core.state.find(peer)
    if conv is None:
        console.print("[dim](no conversation yet)[/dim]")
        return
    lines: list[tuple[str, str]] = []
    try:
        for m in reversed(await session.history(conv.href)):
            who = "you" if m.get("direction") == "Outgoing" else (conv.remote_name or peer)
            lines.append((who, message_text(m)))
    except NotOffered:
        lines = [("you" if d == "out" else who, said) for d, who, said in conv.history]
    for who, said in lines:
        console.print(f"  [bold]{escape(who)}[/bold]: {escape(said)}")


def presence(
    state: Annotated[
        str | None, typer.Argument(help=f"Set your presence: {', '.join(PRESENCE_STATES)}.")
    ] = None,
    json_out: JsonOut = False,
) -> None:
    """Show (or set) your presence."""
    if state is not None:
        match = {s.lower(): s for s in PRESENCE_STATES}.get(state.lower().replace(" ", ""))
        if not match:
            fail(f"unknown presence {state!r}; use one of {', '.join(PRESENCE_STATES)}", 2)
        state = match
    with errors(json_out):
        session = open_session(available=True)
        try:
            session.open()
            if state:
                session.set_presence(state)
            value = session.get_presence()
        finally:
            if state:  # presence belongs to an application: keep it until it expires
                session._http.close()
            else:
                session.close()
            remember_token(session)
    if json_out:
        emit({"availability": value.get("availability"), "activity": value.get("activity")})
    else:
        typer.echo(value.get("availability") or "unknown")


def _print_contacts(found: list[Any], json_out: bool) -> None:
    if json_out:
        for c in found:
            emit({"name": c.name, "uri": c.uri})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("Name", "SIP URI")
    for c in found:
        table.add_row(c.name or "", c.uri or "")
    Console().print(table)


def contacts(json_out: JsonOut = False) -> None:
    """List your contacts."""
    with errors(json_out):
        session = open_session(available=False)
        try:
            session.open()
            found = session.contacts()
        finally:
            session.close()
            remember_token(session)
    _print_contacts(found, json_out)


def search(
    name: Annotated[str, typer.Argument(help="Part of a name or address.")],
    limit: Annotated[int, typer.Option(help="At most this many results.")] = 20,
    json_out: JsonOut = False,
) -> None:
    """Search the directory."""
    with errors(json_out):
        session = open_session(available=False)
        try:
            session.open()
            found = session.search(name, limit)
        finally:
            session.close()
            remember_token(session)
    _print_contacts(found, json_out)


def register(app: typer.Typer) -> None:
    for fn in (login, send, listen, chat, presence, contacts, search):
        app.command()(fn)
