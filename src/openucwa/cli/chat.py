"""``openucwa chat``: the interactive conversation, and its ``/history`` display.

Imported at start-up (through ``client_commands``), so rich and the SDK's sessions (httpx) are
imported inside the functions.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, Any

import typer

from .session import errors, open_session, remember_token, sigterm_as_interrupt


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
