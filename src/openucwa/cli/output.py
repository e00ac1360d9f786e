"""How every ``openucwa`` command reports: one ``error:`` line on standard error and an exit code
that scripts can tell apart; JSON lines on standard output for programs."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer

from ..client import errors as sdk

# What an alerting script can tell apart by exit code; 2 is Click's usage error.
EXIT_CODES: tuple[tuple[type[sdk.UcwaClientError], int], ...] = (
    (sdk.AuthError, 3),
    (sdk.NetworkError, 4),
    (sdk.ProtocolError, 5),
    (sdk.NotOffered, 6),
    (sdk.PGetReplaced, 7),
    (sdk.NotFoundError, 11),
    (sdk.Unavailable, 12),
    (sdk.Declined, 13),
    (sdk.NoAnswer, 14),
    (sdk.Canceled, 15),
    (sdk.DeliveryError, 10),
)
NOT_SIGNED_IN = 3
BAD_RESPONSE = 5


def exit_code(exc: sdk.UcwaClientError) -> int:
    """The most specific class wins: subclasses are listed before their bases."""
    return next((code for cls, code in EXIT_CODES if isinstance(exc, cls)), 1)


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()
