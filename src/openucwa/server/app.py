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
from ..config import Settings
from ..core.errors import UcwaError
from ..store import open_store
from . import errors
from .middleware import CaseFoldPaths, Guard
from .routes import applications, communication, discovery, events, people, webapp, xframe
from .runtime import Runtime


def _bus(settings: Settings, notifier: Notifier) -> Bus:
    if settings.redis_url:
        from ..bus.redis import RedisBus

        return RedisBus(settings.redis_url, notifier)
    return LocalBus(notifier)


def create_app(settings: Settings) -> Starlette:
    rt = Runtime(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await open_store(settings.database_url, settings.data_dir)
        try:
            notifier = Notifier()
            bus = _bus(settings, notifier)
            await bus.start()
            try:
                rt.start(Services(store=store, bus=bus, notifier=notifier, settings=settings))
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
        *webapp.routes(rt),
    ]
    app = Starlette(
        routes=all_routes,
        middleware=[Middleware(CaseFoldPaths), Middleware(Guard, runtime=rt)],
        exception_handlers={
            UcwaError: errors.ucwa_error,
            HTTPException: errors.http_error,
            Exception: errors.unexpected,
        },
        lifespan=lifespan,
    )
    return app
