"""``Session``: the blocking SDK. It drives the flows of ``flows.py`` with ``httpx.Client``.

Without threads: whoever waits for an event (``send_message`` waiting for delivery, ``listen``)
runs the P-GET itself; notifications are dispatched to handlers as they arrive.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, TypeVar

import httpx

from .base import SessionBase
from .errors import NetworkError, TimedOut
from .flows import Await, Contact, Entry, Flow, Sleep
from .models import IncomingInvitation, Notification

T = TypeVar("T")


class Session(SessionBase):
    """A signed-in UCWA application. ``with Session(server, user, password) as s: s.send_message(...)``."""

    def __init__(self, server: str, username: str, password: str | None = None, **kw: Any) -> None:
        transport = kw.pop("transport", None)
        super().__init__(server, username, password, **kw)
        self._http = httpx.Client(transport=transport, follow_redirects=False)

    # -- the driver -----------------------------------------------------------------------------------

    def run(self, flow: Flow[T]) -> T:
        """Drive one flow to its end."""
        try:
            step = next(flow)
            while True:
                try:
                    result = self._do(step)
                except NetworkError as exc:
                    step = flow.throw(exc)
                else:
                    step = flow.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def _do(self, step: Any) -> Any:
        if isinstance(step, httpx.Request):
            try:
                return self._http.send(step)
            except httpx.ReadTimeout as exc:
                raise TimedOut(f"{step.url.host}: no answer in time") from exc
            except httpx.TransportError as exc:
                raise NetworkError(f"{step.url.host}: {exc or type(exc).__name__}") from exc
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        if isinstance(step, Await):
            return self._await(step.cursor, step.timeout)
        raise TypeError(f"unknown flow instruction {step!r}")

    def _await(self, cursor: int, timeout: float | None = None) -> tuple[list[Entry], int]:
        entries = self.core.entries_since(cursor)
        if not entries:
            self.pump(timeout)
            entries = self.core.entries_since(cursor)
        return entries, self.core.log_end

    def pump(self, timeout: float | None = None) -> list[Notification]:
        """One P-GET step; notifications go to handlers (and invitations are answered)."""
        notes = self.run(self.core.pget(timeout))
        for note in notes:
            if isinstance(note, IncomingInvitation):
                decision: bool | None = None
                for fn in self._invitation_handlers:
                    d = fn(note)
                    decision = d if d is not None else decision
                if decision is None:
                    decision = True if self.auto_accept else None
                if decision is not None:
                    self.run(self.core.answer(note.accept_href if decision else note.decline_href, decision))
            for fn in self._handlers_for(note):
                fn(note)
        return notes

    # -- lifecycle --------------------------------------------------------------------------------------

    def open(self) -> Session:
        self.run(self.core.open())
        return self

    def close(self) -> None:
        try:
            self.run(self.core.close())
        finally:
            self._http.close()

    def __enter__(self) -> Session:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sign_in(self) -> str:
        """Only the token (for ``openucwa login``); no application is created."""
        self.run(self.core.sign_in())
        assert self.core.token
        return self.core.token

    # -- IM ---------------------------------------------------------------------------------------------

    def send_message(self, to: str, text: str, **kw: Any) -> str:
        """Send and (by default) wait until delivered; raises NotFoundError, Declined, NoAnswer, …"""
        return self.run(self.core.send_message(to, text, **kw))

    def reply(self, conversation: str, text: str, *, wait: bool = False) -> str:
        return self.run(self.core.reply(conversation, text, wait=wait))

    def accept(self, invitation: IncomingInvitation) -> bool:
        return self.run(self.core.answer(invitation.accept_href, True))

    def decline(self, invitation: IncomingInvitation) -> bool:
        return self.run(self.core.answer(invitation.decline_href, False))

    def set_typing(self, conversation: str) -> None:
        self.run(self.core.set_typing(conversation))

    def stop(self, conversation: str) -> None:
        self.run(self.core.stop(conversation))

    def history(self, conversation: str) -> list[dict[str, Any]]:
        return self.run(self.core.history(conversation))

    def listen(self, duration: float | None = None) -> Iterator[Notification]:
        """Notifications as they arrive (invitations already answered per ``auto_accept``/handlers)."""
        cursor = self.core.log_end
        deadline = None if duration is None else time.monotonic() + duration
        while deadline is None or time.monotonic() < deadline:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            entries, cursor = self._await(cursor, remaining)
            for e in entries:
                yield from e.notes

    # -- presence and people ----------------------------------------------------------------------------

    def get_presence(self) -> dict[str, Any]:
        return self.run(self.core.get_presence())

    def set_presence(self, availability: str) -> None:
        self.run(self.core.set_presence(availability))

    def contacts(self) -> list[Contact]:
        return self.run(self.core.contacts())

    def search(self, query: str, limit: int = 20) -> list[Contact]:
        return self.run(self.core.search(query, limit))

    def subscribe_presence(self, uris: list[str], duration: int = 30) -> str:
        return self.run(self.core.subscribe_presence(uris, duration))

    def contact_presence(self, contact: Contact) -> dict[str, Any]:
        return self.run(self.core.contact_presence(contact))
