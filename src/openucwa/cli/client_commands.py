"""The client side of the ``openucwa`` command line: login, send, listen, chat, presence, contacts, search.

Imported by ``openucwa.cli`` at start-up, so this module imports only typer and the CLI's own
light modules at module level; the SDK's sessions (httpx) and rich are imported inside the
commands. ``chat`` lives in ``chat.py``; what the commands share (sessions, errors) in ``session.py``.
"""

from __future__ import annotations

import os
import subprocess
from typing import Annotated, Any

import typer

from .chat import chat
from .output import emit, fail
from .session import USER_AGENT, JsonOut, errors, open_session, remember_token, sigterm_as_interrupt

PRESENCE_STATES = ("Online", "Busy", "DoNotDisturb", "BeRightBack", "Away", "Offline")


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
