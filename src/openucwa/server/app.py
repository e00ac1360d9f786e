"""create_app(settings) → the ASGI application; the lifespan owns store, bus and reaper."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from ..actions import lifetime
from ..actions.services import Services
from ..bus.interface import Bus
from ..bus.local import LocalBus
from ..bus.notifier import Notifier
from ..clock import Clock
from ..config import Settings
from ..core.errors import UcwaError
from ..store import open_store
from . import errors
from .middleware import CaseFoldPaths, Guard
from .observability import Observe
from .routes import applications, communication, discovery, events, ops, people, xframe
from .runtime import Runtime


def _bus(settings: Settings, notifier: Notifier) -> Bus:
    if settings.redis_url:
        from ..bus.redis import RedisBus

        return RedisBus(settings.redis_url, notifier)
    return LocalBus(notifier)


class OpenUcwa(Starlette):
    """The server's ASGI app, with the node's ``runtime`` typed for in-process tests to inspect."""

    runtime: Runtime


def create_app(settings: Settings, clock: Clock | None = None) -> OpenUcwa:
    """``clock`` is for tests that move time by hand; a server runs on real time."""
    rt = Runtime(settings)
    node_clock = clock or Clock()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await open_store(settings.database_url, settings.data_dir)
        try:
            notifier = Notifier(node_clock)
            bus = _bus(settings, notifier)
            await bus.start()
            try:
                rt.start(
                    Services(
                        store=store,
                        bus=bus,
                        notifier=notifier,
                        settings=settings,
                        clock=node_clock,
                        metrics=rt.metrics,
                    )
                )
                reaper = asyncio.create_task(lifetime.run(rt.services), name="openucwa-reaper")
                try:
                    yield
                finally:
                    reaper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reaper
                    notifier.notify_all()
            finally:
                await bus.close()
        finally:
            await store.close()

    # Routes are tried in order and no two match one path: the event channel and messaging, which
    # carry almost every request, go first.
    all_routes = [
        *events.routes(rt),
        *communication.routes(rt),
        *applications.routes(rt),
        *people.routes(rt),
        *discovery.routes(rt),
        *xframe.routes(rt),
        *ops.routes(rt),
    ]
    app = OpenUcwa(
        routes=all_routes,
        middleware=[
            Middleware(CaseFoldPaths),
            Middleware(Observe, metrics=rt.metrics),
            Middleware(Guard, runtime=rt),
        ],
        exception_handlers={
            UcwaError: errors.ucwa_error,
            HTTPException: errors.http_error,
            Exception: errors.unexpected,
        },
        lifespan=lifespan,
    )
    app.runtime = rt
    return app
