"""Per-node registry of pending P-GETs waiting for their application to move.

Theory of operation
-------------------
A waiter registers with the version of its application it last read. ``notify(app, v)`` wakes every
waiter registered with an older version; ``wait`` returns at once when the version already moved
before it registered, so a wake can never fall between "read the store" and "start waiting". A wake
carries no data: the woken request re-reads the store, so lost or duplicated wakes only cost a read.
Waiters remove themselves on wake, timeout or cancellation (client gone), so an idle node holds
nothing but the futures of the requests actually pending.
"""

from __future__ import annotations

import asyncio


class Notifier:
    def __init__(self) -> None:
        self._versions: dict[str, int] = {}
        self._waiters: dict[str, dict[asyncio.Future[None], int]] = {}

    def notify(self, app_id: str, version: int) -> None:
        if version <= self._versions.get(app_id, -1):
            return
        self._versions[app_id] = version
        waiters = self._waiters.get(app_id)
        if not waiters:
            return
        for fut, after in list(waiters.items()):
            if version > after and not fut.done():
                fut.set_result(None)

    def notify_all(self) -> None:
        """After a bus reconnect nobody knows what was missed: everyone re-reads."""
        for waiters in self._waiters.values():
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    def forget(self, app_id: str) -> None:
        """An ended application needs no version memory (its waiters were woken already)."""
        self._versions.pop(app_id, None)

    async def wait(self, app_id: str, after: int, within: float) -> bool:
        """True when woken (the version passed ``after``), False on timeout."""
        if self._versions.get(app_id, -1) > after:
            return True
        if within <= 0:
            return False
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(app_id, {})
        waiters[fut] = after
        try:
            async with asyncio.timeout(within):
                await fut
            return True
        except TimeoutError:
            return False
        finally:
            waiters.pop(fut, None)
            if not waiters:
                self._waiters.pop(app_id, None)

    def waiting(self) -> int:
        return sum(len(w) for w in self._waiters.values())
