"""What the sync and async sessions share that is not I/O: construction and handler registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .flows import Core
from .models import Conversation, IncomingInvitation, Notification


class SessionBase:
    def __init__(
        self,
        server: str,
        username: str,
        password: str | None = None,
        *,
        auto_accept: bool = True,
        **options: Any,
    ) -> None:
        """``options`` are ``Core``'s (token, user_href, user_agent, endpoint_id, available,
        reconnect_window, clock)."""
        self.core = Core(server, username, password, **options)
        self.auto_accept = auto_accept
        self._invitation_handlers: list[Callable[[IncomingInvitation], Any]] = []
        self._handlers: list[tuple[type | tuple[type, ...], Callable[[Any], Any]]] = []

    # -- registry ----------------------------------------------------------------------------------

    def on_invitation(self, fn: Callable[[IncomingInvitation], Any]) -> Callable[[IncomingInvitation], Any]:
        """Decorator: ``fn(invitation)`` returns True to accept, False to decline, None for the default."""
        self._invitation_handlers.append(fn)
        return fn

    def on(self, kind: type | tuple[type, ...], fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Call ``fn(notification)`` for each notification of this type (IncomingMessage, Typing, …)."""
        self._handlers.append((kind, fn))
        return fn

    def on_message(self, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        from .models import IncomingMessage

        return self.on(IncomingMessage, fn)

    def _handlers_for(self, note: Notification) -> list[Callable[[Any], Any]]:
        return [fn for kind, fn in self._handlers if isinstance(note, kind)]

    # -- state ---------------------------------------------------------------------------------------

    @property
    def token(self) -> str | None:
        return self.core.token

    @property
    def user_href(self) -> str | None:
        return self.core.user_href

    @property
    def application(self) -> dict[str, Any]:
        return self.core.app

    @property
    def conversations(self) -> dict[str, Conversation]:
        return self.core.state.conversations
