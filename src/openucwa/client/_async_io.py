"""The few waiting primitives ``async_client.py`` needs, for asyncio.

``_sync_io.py`` offers the same names for the blocking client that ``scripts/unasync.py``
generates from ``async_client.py``; keeping the difference here keeps the two clients one text.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
Lock = asyncio.Lock
sleep = asyncio.sleep


async def wait_for(awaitable: Awaitable[T], seconds: float | None) -> T:
    """Gives up (TimeoutError) while still waiting for the pump lock, not only during a P-GET."""
    return await asyncio.wait_for(awaitable, seconds)


async def call(fn: Callable[[Any], Any], arg: Any) -> Any:
    """A handler may be a plain function or a coroutine function."""
    result = fn(arg)
    if inspect.isawaitable(result):
        result = await result
    return result
