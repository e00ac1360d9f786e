"""Errors the SDK raises: one type per outcome a caller tells apart."""

from __future__ import annotations

from typing import Any


class UcwaClientError(Exception):
    """Base of every SDK error."""

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None, subcode: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.subcode = subcode


class AuthError(UcwaClientError):
    """Bad credentials, or a stored token that expired and no password to renew it."""


class NetworkError(UcwaClientError):
    """The server could not be reached (DNS, refused connection, reset, timeout)."""


class TimedOut(NetworkError):
    """No answer within the client's own read timeout (a P-GET cut short on purpose, say)."""


class ProtocolError(UcwaClientError):
    """The server answered something this client did not expect (status, code, subcode kept)."""


class NotOffered(UcwaClientError):
    """The server does not offer a link this call follows (e.g. no ``myContacts``)."""


class PGetReplaced(UcwaClientError):
    """409 PGetReplaced: another client is reading this application's event channel."""


class DeliveryError(UcwaClientError):
    """An invitation or a message failed; ``subcode`` is the server's reason."""


class NotFoundError(DeliveryError):
    """The recipient does not exist (DestinationNotFound)."""


class Unavailable(DeliveryError):
    """The recipient exists but has no available client (Unreachable)."""


class Declined(DeliveryError):
    """The recipient declined the invitation."""


class NoAnswer(DeliveryError):
    """Nobody answered the invitation in time, or the message was never fetched (Timeout/Missed)."""


class Canceled(DeliveryError):
    """The invitation was cancelled (by us, or the conversation ended)."""


_BY_SUBCODE: dict[str, type[DeliveryError]] = {
    "DestinationNotFound": NotFoundError,
    "Unreachable": Unavailable,
    "Declined": Declined,
    "Timeout": NoAnswer,
    "Missed": NoAnswer,
    "Canceled": Canceled,
}

_WORDS = {
    NotFoundError: "no such user",
    Unavailable: "the user is not signed in anywhere",
    Declined: "the user declined",
    NoAnswer: "no answer",
    Canceled: "the conversation was cancelled",
}


def delivery_error(reason: dict[str, Any] | None, target: str = "") -> DeliveryError:
    """The error for a ``completed`` event with status Failure and this ``reason``."""
    reason = reason or {}
    subcode = reason.get("subcode")
    cls = _BY_SUBCODE.get(str(subcode), DeliveryError)
    what = _WORDS.get(cls) or reason.get("message") or f"failed ({subcode or 'no reason given'})"
    return cls(f"{target}: {what}" if target else what, code=reason.get("code"), subcode=subcode)


def response_error(status: int, body: Any, what: str) -> UcwaClientError:
    """The error for an unexpected HTTP response carrying (maybe) a UCWA error body."""
    code = subcode = None
    message = ""
    if isinstance(body, dict):
        code, subcode, message = body.get("code"), body.get("subcode"), body.get("message") or ""
    detail = "/".join(str(x) for x in (code, subcode) if x)
    text = f"{what}: HTTP {status}" + (f" {detail}" if detail else "") + (f" ({message})" if message else "")
    if status == 401:
        return AuthError(text, status=status, code=code, subcode=subcode)
    return ProtocolError(text, status=status, code=code, subcode=subcode)
