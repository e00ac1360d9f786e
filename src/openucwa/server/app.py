"""create_app(settings) → the ASGI application; the lifespan owns store, bus and reaper."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from starlette.types import Lifespan, Receive, Scope, Send

from ..actions import lifetime, quotas, revocation, users
from ..actions.directory import open_directory
from ..actions.directory import run as sync_run
from ..actions.services import Services
from ..bus.interface import Bus
from ..bus.local import LocalBus
from ..bus.notifier import Notifier
from ..clock import Clock
from ..config import Settings
from ..core.errors import UcwaError
from ..ratelimit import RateLimits
from ..store import open_store
from . import errors
from .cors import Cors
from .middleware import CaseFoldPaths, Guard
from .observability import Observe
from .router import IndexedRouter
from .routes import applications, batch, communication, discovery, events, ops, people, webapp, xframe
from .runtime import Runtime


def _bus(settings: Settings, notifier: Notifier) -> Bus:
    if settings.redis_url:
        from ..bus.redis import RedisBus

        return RedisBus(settings.redis_url, notifier)
    return LocalBus(notifier)


class OpenUcwa(Starlette):
    """The server's ASGI app, with the node's ``runtime`` typed for in-process tests to inspect."""

    runtime: Runtime

    def __init__(self, *, routes: Sequence[BaseRoute], lifespan: Lifespan[Starlette], **kwargs: Any) -> None:
        super().__init__(routes=list(routes), lifespan=lifespan, **kwargs)
        self.router = IndexedRouter(routes, lifespan=lifespan)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:  # type: ignore[override]
        # Starlette's, but not a coroutine: it hands back the middleware stack's awaitable, so its
        # frame does not stay alive for as long as a request runs (held P-GETs: routes.events).
        # An ASGI server must then be told this is ASGI 3 (cli.serve: uvicorn's interface="asgi3").
        scope["app"] = self
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        return self.middleware_stack(scope, receive, send)


def create_app(settings: Settings, clock: Clock | None = None) -> OpenUcwa:
    """``clock`` is for tests that move time by hand; a server runs on real time."""
    rt = Runtime(settings)
    node_clock = clock or Clock()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await open_store(settings.database_url, settings.data_dir)
        try:
            notifier = Notifier(node_clock)
            directory = open_directory(settings)
            bus = _bus(settings, notifier)
            await bus.start()
            try:
                limits = RateLimits(quotas.rules(settings), settings.redis_url)
                rt.start(
                    Services(
                        store=store,
                        bus=bus,
                        notifier=notifier,
                        settings=settings,
                        clock=node_clock,
                        limits=limits,
                        directory=directory,
                        metrics=rt.metrics,
                    )
                )
                await users.warm_up()
                tasks = [
                    asyncio.create_task(lifetime.run(rt.services), name="openucwa-reaper"),
                    asyncio.create_task(
                        revocation.watch(rt.services, rt.tokens, rt.held), name="openucwa-revocations"
                    ),
                ]
                if directory is not None:
                    tasks.append(asyncio.create_task(sync_run(rt.services, directory), name="openucwa-sync"))
                try:
                    yield
                finally:
                    for task in tasks:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                    notifier.notify_all()
            finally:
                await bus.close()
        finally:
            await store.close()

    # Routes are tried in order and no two match one path: the event channel and messaging, which
    # carry almost every request, go first.
    event_channel = events.routes(rt)
    all_routes = [
        *event_channel,
        *communication.routes(rt),
        *applications.routes(rt),
        *batch.routes(rt),
        *people.routes(rt),
        *discovery.routes(rt),
        *xframe.routes(rt),
        *ops.routes(rt),
        *webapp.routes(rt),
    ]
    app = OpenUcwa(
        routes=all_routes,
        middleware=[
            Middleware(CaseFoldPaths),
            # P-GETs (not cross-origin) turn off here: one frame does Observe's, Guard's and the
            # endpoint's work, so thousands of held requests keep few frames alive (routes.events).
            Middleware(events.EventChannelFirst, route=event_channel[0], runtime=rt),
            Middleware(Observe, metrics=rt.metrics),
            Middleware(Cors, runtime=rt),
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
