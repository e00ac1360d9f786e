"""Redis pub/sub bus for several nodes sharing one database.

Redis is treated as lossy (SPEC-independent, Synapse's lesson): a wake only says "re-read", the
store is the truth. The local node is notified directly before publishing, and after any
(re)connect of the listener every local waiter is woken so nothing missed while disconnected stays
unseen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis

from .notifier import Notifier

CHANNEL = "openucwa:wake"
log = logging.getLogger(__name__)


class RedisBus:
    def __init__(self, url: str, notifier: Notifier, *, channel: str = CHANNEL) -> None:
        self._url = url
        self._channel = channel
        self._notifier = notifier
        self._client: aioredis.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._client = aioredis.from_url(self._url)
        await self._client.ping()
        self._task = asyncio.create_task(self._listen(), name="openucwa-redis-listener")
        async with asyncio.timeout(10):
            await self._ready.wait()

    async def publish(self, app_id: str, version: int) -> None:
        self._notifier.notify(app_id, version)
        if self._client is None:
            return
        # Two attempts: a pooled connection the server dropped while idle (Redis restart, `timeout`,
        # a proxy) fails once and is discarded; the second attempt dials a fresh one. (Not a client-wide
        # retry policy: that would also hide the listener's disconnects and skip its notify_all.)
        for attempt in (1, 2):
            try:
                await self._client.publish(self._channel, f"{app_id}:{version}")
                return
            except (aioredis.ConnectionError, OSError) as exc:
                if attempt == 2:
                    # Other nodes' waiters still wake on their own deadlines; the store holds the data.
                    log.warning("redis publish failed: %s", exc)

    async def _listen(self) -> None:
        assert self._client is not None
        while True:
            try:
                pubsub = self._client.pubsub()
                await pubsub.subscribe(self._channel)
                self._ready.set()
                self._notifier.notify_all()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    raw = message["data"].decode() if isinstance(message["data"], bytes) else message["data"]
                    app_id, _, version = raw.rpartition(":")
                    with contextlib.suppress(ValueError):
                        self._notifier.notify(app_id, int(version))
            except asyncio.CancelledError:
                raise
            except (aioredis.ConnectionError, OSError) as exc:
                log.warning("redis listener disconnected, retrying: %s", exc)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def ping(self) -> None:
        if self._client is None:
            raise ConnectionError("the Redis bus has not started")
        await self._client.ping()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()
