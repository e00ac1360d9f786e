"""Redis pub/sub bus for several nodes sharing one database.

Redis is treated as lossy (SPEC-independent, Synapse's lesson): a wake only says "re-read", the
store is the truth. The local node is notified directly before publishing, and after any
(re)connect of the listener every local waiter is woken so nothing missed while disconnected stays
unseen.

Wakes leave in batches: ``publish`` notifies this node at once and files the wake; one sender task
sends everything filed meanwhile as one PUBLISH (``origin|app:version app:version …``), so a unit of
work that moved several applications, or many units committing while a PUBLISH is on its way, cost
one round trip to Redis and one message to each node, and no request waits for Redis. A node skips
the batches it sent itself: its waiters were notified when it filed them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

import redis.asyncio as aioredis

from .notifier import Notifier

CHANNEL = "openucwa:wake"
BATCH = 1000  # wakes per message: a presence change watched by 10,000 applications is 10 messages
log = logging.getLogger(__name__)


class RedisBus:
    def __init__(self, url: str, notifier: Notifier, *, channel: str = CHANNEL) -> None:
        self._url = url
        self._channel = channel
        self._notifier = notifier
        self._origin = secrets.token_hex(8)
        self._client: aioredis.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._pending: dict[str, int] = {}  # filed, not yet sent: app id → highest version
        self._sender: asyncio.Task[None] | None = None

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
        if version > self._pending.get(app_id, -1):
            self._pending[app_id] = version
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send(), name="openucwa-redis-sender")

    async def _send(self) -> None:
        """Sends what was filed until nothing is left; what is filed during a PUBLISH goes in the next."""
        assert self._client is not None
        while self._pending:
            filed, self._pending = self._pending, {}
            items = [f"{app_id}:{version}" for app_id, version in filed.items()]
            for i in range(0, len(items), BATCH):
                await self._publish(f"{self._origin}|{' '.join(items[i : i + BATCH])}")

    async def _publish(self, message: str) -> None:
        assert self._client is not None
        # Two attempts: a pooled connection the server dropped while idle (Redis restart, `timeout`,
        # a proxy) fails once and is discarded; the second attempt dials a fresh one. (Not a client-wide
        # retry policy: that would also hide the listener's disconnects and skip its notify_all.)
        for attempt in (1, 2):
            try:
                await self._client.publish(self._channel, message)
                return
            except (aioredis.ConnectionError, OSError) as exc:
                if attempt == 2:
                    # Other nodes' waiters still wake on their own deadlines; the store holds the data.
                    log.warning("redis publish failed: %s", exc)

    def _received(self, raw: str) -> None:
        origin, bar, wakes = raw.rpartition("|")
        if bar and origin == self._origin:
            return
        for wake in wakes.split():
            app_id, _, version = wake.rpartition(":")
            with contextlib.suppress(ValueError):
                self._notifier.notify(app_id, int(version))

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
                    data = message["data"]
                    self._received(data.decode() if isinstance(data, bytes) else data)
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
        if self._sender is not None:  # what was filed still leaves (a CLI command's last wakes)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self._sender
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()
