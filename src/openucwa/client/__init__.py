"""The OpenUCWA Python SDK: send and receive IMs, presence and people against any UCWA server.

``Session`` (blocking) and ``AsyncSession`` (asyncio) drive the same sans-I/O flows (``flows``).
Names are imported lazily (PEP 562) so that the CLI's ``--help`` does not load httpx.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "AsyncSession": "async_client",
    "AuthError": "errors",
    "Canceled": "errors",
    "Contact": "flows",
    "ConversationEnded": "models",
    "Declined": "errors",
    "DeliveryError": "errors",
    "Event": "models",
    "IncomingInvitation": "models",
    "IncomingMessage": "models",
    "NetworkError": "errors",
    "NoAnswer": "errors",
    "NotFoundError": "errors",
    "NotOffered": "errors",
    "Notification": "models",
    "PGetReplaced": "errors",
    "PresenceChanged": "models",
    "ProtocolError": "errors",
    "Session": "sync_client",
    "TimedOut": "errors",
    "Typing": "models",
    "UcwaClientError": "errors",
    "Unavailable": "errors",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
