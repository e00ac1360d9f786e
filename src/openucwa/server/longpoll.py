"""Holding a P-GET open: race the notifier against the client's disconnect and the deadline.

Theory of operation
-------------------
``actions.events.pget_round`` either answers or says "hold until T, past version V". We then wait
for whichever comes first: a wake for this application (someone appended events, replaced this
P-GET, or ended the application), the deadline T (a timeout or a Medium/Low event coming due), or
``http.disconnect``. A wake or deadline means "run another round"; a disconnect frees the channel at
once so no waiter outlives its client. One extra task per held request watches the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets

from starlette.requests import Request
from starlette.types import Message

from ..actions import events
from ..actions.services import Services
from ..core.commands import PGet


async def _disconnected(request: Request) -> None:
    while True:
        message: Message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def hold(svc: Services, request: Request, app_id: str, user_uri: str, params: PGet) -> bytes | None:
    """The response body, or None when the client went away first."""
    pget_id = secrets.token_hex(8)
    started = svc.clock()
    first = True
    watcher: asyncio.Task[None] | None = None
    try:
        while True:
            result = await events.pget_round(svc, app_id, user_uri, params, pget_id, started, first)
            if isinstance(result, events.Answer):
                return result.body
            first = False
            if watcher is None:
                watcher = asyncio.ensure_future(_disconnected(request))
            waiter = asyncio.ensure_future(
                svc.notifier.wait(app_id, result.version, max(0.0, result.until - svc.clock()))
            )
            await asyncio.wait((waiter, watcher), return_when=asyncio.FIRST_COMPLETED)
            if watcher.done():
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
                await events.abandon(svc, app_id, pget_id)
                return None
    finally:
        if watcher is not None and not watcher.done():
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
