"""The Bus protocol: how a node tells every node (itself included) that an application moved."""

from __future__ import annotations

from typing import Protocol


class Bus(Protocol):
    async def start(self) -> None: ...

    async def publish(self, app_id: str, version: int) -> None:
        """Called after commit only, so a woken reader finds what caused the wake."""

    async def ping(self) -> None:
        """Raises when the transport between nodes is unreachable (readiness); in-process: never."""

    async def close(self) -> None: ...
