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
from typing import Any

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


class JoinedWritesProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # uvloop's is no subclass
        super().connection_made(_JoinedWrites(transport, self.loop))  # type: ignore[arg-type]
