"""Open connections per client address are capped (loopback, where a local proxy would connect
from, is not); a closed connection frees its place."""

from __future__ import annotations

import asyncio

from uvicorn.config import Config
from uvicorn.server import ServerState

from openucwa.server.limits import HttpLimits, LimitedProtocol, protocol_class


class Transport(asyncio.Transport):
    def __init__(self, peer: str) -> None:
        super().__init__()
        self.peer = peer
        self.closed = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": (self.peer, 5000), "sockname": ("10.0.0.1", 443)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass


async def _open(cls: type[LimitedProtocol], peer: str) -> tuple[LimitedProtocol, Transport]:
    config = Config(app=lambda scope, receive, send: None, http="httptools")
    config.load()
    proto = cls(config=config, server_state=ServerState(), app_state={})
    transport = Transport(peer)
    proto.connection_made(transport)
    return proto, transport


async def test_per_address_cap_and_release() -> None:
    cls = protocol_class(HttpLimits(max_connections_per_client=3))
    opened = [await _open(cls, "192.0.2.7") for _ in range(3)]
    assert not any(t.closed for _, t in opened)
    _, refused = await _open(cls, "192.0.2.7")
    assert refused.closed  # the fourth from that address
    _, other = await _open(cls, "192.0.2.8")
    assert not other.closed  # another address has its own count
    for _ in range(10):
        _, local = await _open(cls, "127.0.0.1")
        assert not local.closed  # loopback is never capped
    proto, _ = opened[0]
    proto.connection_lost(None)
    _, again = await _open(cls, "192.0.2.7")
    assert not again.closed
    assert cls.per_client == {"192.0.2.7": 3, "192.0.2.8": 1}
    assert protocol_class(HttpLimits()).per_client == {}  # every server counts its own
