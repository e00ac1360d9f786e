"""The in-process bus of a single-node server: publishing is notifying."""

from __future__ import annotations

from .notifier import Notifier


class LocalBus:
    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    async def start(self) -> None:
        return None

    async def publish(self, app_id: str, version: int) -> None:
        self._notifier.notify(app_id, version)

    async def ping(self) -> None:
        """Nothing to reach: wakes stay in this process."""

    async def close(self) -> None:
        return None
