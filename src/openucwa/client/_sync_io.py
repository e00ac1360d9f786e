"""The waiting primitives of ``_async_io.py`` for the blocking client (``sync_client.py``).

A blocking call has already finished when ``wait_for`` sees its value: the blocking client bounds
its waits by passing the remaining time into the P-GET instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Lock = threading.Lock
sleep = time.sleep


def wait_for(value: T, seconds: float | None) -> T:
    del seconds  # the call that produced ``value`` was bounded by it already
    return value


def call(fn: Callable[[Any], Any], arg: Any) -> Any:
    return fn(arg)
