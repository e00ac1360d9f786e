"""``AsyncSession``: the asyncio SDK. It drives the sans-I/O flows (``flows``) with ``httpx.AsyncClient``.

One P-GET at a time: whoever needs events takes the pump lock and runs the P-GET; the others find
the entries it recorded when they get the lock. Handlers run outside the lock, so a handler may
itself send and wait for delivery.

The blocking ``Session`` (``sync_client.py``) is generated from this file by ``scripts/unasync.py``
(``make test`` fails when the two drift): edit this one, then run ``make unasync``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, TypeVar, cast

import httpx

from . import _async_io as io
from .base import SessionBase
from .errors import NetworkError, TimedOut
from .flows import Await, Contact, Entry, Flow, Sleep
from .models import IncomingInvitation, Notification

T = TypeVar("T")


class AsyncSession(SessionBase):
    """``async with AsyncSession(server, user, password) as s: await s.send_message(...)``."""

    def __init__(self, server: str, username: str, password: str | None = None, **kw: Any) -> None:
        transport = kw.pop("transport", None)
        super().__init__(server, username, password, **kw)
        self._http = httpx.AsyncClient(transport=transport, follow_redirects=False)
        self._pump_lock = io.Lock()

    # -- the driver -----------------------------------------------------------------------------------

    async def run(self, flow: Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                try:
                    result = await self._do(step)
                except NetworkError as exc:
                    step = flow.throw(exc)
                else:
                    step = flow.send(result)
        except StopIteration as stop:
            return cast(T, stop.value)  # a Flow[T] returns a T

    async def _do(self, step: Any) -> Any:
        if isinstance(step, httpx.Request):
            try:
                return await self._http.send(step)
            except httpx.ReadTimeout as exc:
                raise TimedOut(f"{step.url.host}: no answer in time") from exc
            except httpx.TransportError as exc:
                raise NetworkError(f"{step.url.host}: {exc or type(exc).__name__}") from exc
        if isinstance(step, Sleep):
            await io.sleep(step.seconds)
            return None
        if isinstance(step, Await):
            try:
                return await io.wait_for(self._await(step.cursor, step.timeout), step.timeout)
            except TimeoutError:
                return [], step.cursor
        raise TypeError(f"unknown flow instruction {step!r}")

    async def _await(self, cursor: int, wait: float | None = None) -> tuple[list[Entry], int]:
        """Entries after ``cursor``, pumping the channel until some arrive or ``wait`` seconds pass."""
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            entries = self.core.entries_since(cursor)
            if entries:
                return entries, self.core.log_end
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return [], cursor
            async with self._pump_lock:
                if self.core.entries_since(cursor):
                    continue  # another waiter pumped meanwhile
                notes = await self.run(self.core.pget(remaining))
            await self._dispatch(notes)

    async def pump(self, wait: float | None = None) -> list[Notification]:
        """One P-GET step; notifications go to handlers (and invitations are answered)."""
        async with self._pump_lock:
            notes = await self.run(self.core.pget(wait))
        await self._dispatch(notes)
        return notes

    async def _dispatch(self, notes: list[Notification]) -> None:
        for note in notes:
            if isinstance(note, IncomingInvitation):
                decision: bool | None = None
                for fn in self._invitation_handlers:
                    d = await io.call(fn, note)
                    decision = d if d is not None else decision
                if decision is None:
                    decision = True if self.auto_accept else None
                if decision is not None:
                    href = note.accept_href if decision else note.decline_href
                    await self.run(self.core.answer(href, decision))
            for fn in self._handlers_for(note):
                await io.call(fn, note)

    # -- lifecycle --------------------------------------------------------------------------------------

    async def open(self) -> AsyncSession:
        await self.run(self.core.open())
        return self

    async def close(self) -> None:
        try:
            await self.run(self.core.close())
        finally:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncSession:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def sign_in(self) -> str:
        await self.run(self.core.sign_in())
        assert self.core.token
        return self.core.token

    # -- IM ---------------------------------------------------------------------------------------------

    async def send_message(self, to: str, text: str, **kw: Any) -> str:
        return await self.run(self.core.send_message(to, text, **kw))

    async def reply(self, conversation: str, text: str, *, wait: bool = False) -> str:
        return await self.run(self.core.reply(conversation, text, wait=wait))

    async def accept(self, invitation: IncomingInvitation) -> bool:
        return await self.run(self.core.answer(invitation.accept_href, True))

    async def decline(self, invitation: IncomingInvitation) -> bool:
        return await self.run(self.core.answer(invitation.decline_href, False))

    async def set_typing(self, conversation: str) -> None:
        await self.run(self.core.set_typing(conversation))

    async def stop(self, conversation: str) -> None:
        await self.run(self.core.stop(conversation))

    async def history(self, conversation: str) -> list[dict[str, Any]]:
        return await self.run(self.core.history(conversation))

    async def listen(self, duration: float | None = None) -> AsyncIterator[Notification]:
        cursor = self.core.log_end
        deadline = None if duration is None else time.monotonic() + duration
        while deadline is None or time.monotonic() < deadline:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                entries, cursor = await io.wait_for(self._await(cursor, remaining), remaining)
            except TimeoutError:
                return
            for e in entries:
                for note in e.notes:
                    yield note

    # -- presence and people ----------------------------------------------------------------------------

    async def get_presence(self) -> dict[str, Any]:
        return await self.run(self.core.get_presence())

    async def set_presence(self, availability: str) -> None:
        await self.run(self.core.set_presence(availability))

    async def contacts(self) -> list[Contact]:
        return await self.run(self.core.contacts())

    async def search(self, query: str, limit: int = 20) -> list[Contact]:
        return await self.run(self.core.search(query, limit))

    async def subscribe_presence(self, uris: list[str], duration: int = 30) -> str:
        return await self.run(self.core.subscribe_presence(uris, duration))

    async def contact_presence(self, contact: Contact) -> dict[str, Any]:
        return await self.run(self.core.contact_presence(contact))
