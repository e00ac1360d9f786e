"""What a flow yields to its driver (besides ``httpx.Request``) and the entries it gets back."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from ..models import Event, Notification

T = TypeVar("T")
Flow = Generator[Any, Any, T]


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Await:
    """Ask the driver for channel entries after ``cursor`` (pumping the channel if needed)."""

    cursor: int
    timeout: float | None = None


@dataclass(frozen=True)
class Entry:
    event: Event
    notes: tuple[Notification, ...]
