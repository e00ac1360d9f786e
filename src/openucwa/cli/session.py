"""What every client command shares: a session from the stored credentials, the renewed token kept,
SDK errors turned into an ``error:`` line and an exit code, SIGTERM handled like Ctrl-C.

Imported at start-up (through ``client_commands``), so only typer and ``output`` (whose SDK error
classes import nothing) are imported at module level; the sessions (httpx) inside the functions.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from .output import BAD_RESPONSE, NOT_SIGNED_IN, emit, exit_code, fail

JsonOut = Annotated[bool, typer.Option("--json", help="One JSON object per line, for programs.")]
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
