"""Awaiting a notifier wake from a test: the server's long-poll registers a callback instead
(``server.longpoll``), so this adapter lives with the tests, not in the notifier."""

from __future__ import annotations

import asyncio

from openucwa.bus.notifier import Notifier


async def wait(notifier: Notifier, app_id: str, after: int, within: float) -> bool:
    """True when woken (the version passed ``after``), False on timeout."""
    fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def wake(moved: bool) -> None:
        if not fut.done():
            fut.set_result(moved)

    waiter = notifier.add(app_id, after, within, wake)
    if waiter is None:  # already past it
        return True
    try:
        return await fut if within > 0 else False
    finally:
        notifier.discard(waiter)
