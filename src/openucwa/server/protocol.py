"""uvicorn's httptools protocol, writing each response in one piece.

uvicorn writes a response's head and its body with two ``transport.write`` calls; with TCP_NODELAY
each becomes its own segment and its own wake-up of the client. On the IM path (small JSON bodies,
five exchanges per message) those extra sends were the largest single cost left in the server
after the database. Writes made in one turn of the event loop are joined and sent at the end of
that turn, so a head and the body that follows it leave together; nothing waits longer than the
current turn.
"""

from __future__ import annotations

import asyncio
import collections
import sys
from typing import Any, Literal

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _JoinedWrites:
    """A transport that gathers the writes of one loop turn into a single write."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def flush(self) -> None:
        if self._pending:
            data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _LazyEvent(asyncio.Event):
    """An asyncio.Event whose waiters are a plain list made only when someone waits.

    uvicorn keeps two per connection, for flow control and for the request cycle. A held P-GET waits
    on the request cycle's (its ``receive()`` returns only when the client goes away), so that one
    has a waiter for as long as it is held: asyncio's deque costs ≈ 760 bytes for it, a list ≈ 90,
    and waiting here rather than in ``super().wait()`` saves one more coroutine frame (10,000 held
    P-GETs, ≤ 12 KB each: bench/idle_pgets.py). Same semantics as ``asyncio.Event.wait``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._waiters = ()  # type: ignore[assignment]  # an empty tuple until used: nothing per connection

    async def wait(self) -> Literal[True]:
        if self.is_set():
            return True
        fut = asyncio.get_running_loop().create_future()
        waiters: Any = self._waiters
        if not isinstance(waiters, list):
            waiters = self._waiters = []  # type: ignore[assignment]  # set() and clear() only iterate it
        waiters.append(fut)
        try:
            await fut
            return True
        finally:
            waiters.remove(fut)


class _LazyPipeline:
    """uvicorn's queue of pipelined requests, a deque only once a client pipelines."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: collections.deque[Any] | None = None

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items) if self._items else 0

    def appendleft(self, item: Any) -> None:
        if self._items is None:
            self._items = collections.deque()
        self._items.appendleft(item)

    def pop(self) -> Any:
        if not self._items:
            raise IndexError("pop from an empty pipeline")
        return self._items.pop()


_SERVER_ADDRESSES: dict[tuple[str, int | None], tuple[str, int | None]] = {}


class JoinedWritesProtocol(HttpToolsProtocol):
    """Joined writes, and no memory allocated per connection for what an idle P-GET never uses."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pipeline = _LazyPipeline()  # type: ignore[assignment]  # duck-typed stand-in for uvicorn's deque

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # uvloop's is no subclass
        super().connection_made(_JoinedWrites(transport, self.loop))  # type: ignore[arg-type]  # a proxy transport
        writable = _LazyEvent()
        writable.set()  # as FlowControl starts
        self.flow._is_writable_event = writable
        # uvicorn builds both address tuples anew for each connection: the server's is one of the few
        # it listens on, shared; the client's host string is shared by its peers (≈ 110 bytes in all
        # per held P-GET, measured; the socket's own address objects stay with uvloop's transport).
        if self.server is not None:
            self.server = _SERVER_ADDRESSES.setdefault(self.server, self.server)
        if self.client is not None:
            self.client = (sys.intern(self.client[0]), self.client[1])

    def on_headers_complete(self) -> None:
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is not before:  # a new request: nothing waits on its event yet
            self.cycle.message_event = _LazyEvent()
