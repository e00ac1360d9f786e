"""The ``openucwa`` command line: the operator's commands (serve, user, contact, demo) and the
client's (login, send, listen, chat, presence, contacts, search) on one Typer app.

The SDK (``openucwa.client``) knows nothing of this package: exit codes, terminal output and the
stored credentials live here.
"""

from __future__ import annotations

from . import backup
from .client_commands import register
from .directory import directory_app
from .serve import serve
from .server_commands import app, services

app.command()(serve)  # first in --help, as before
register(app)
app.add_typer(directory_app, name="directory")
backup.register(app)


def main() -> None:
    app()


__all__ = ["app", "main", "services"]
