"""P-GETs parked on this node, found by application, so that the transaction that moves an
application can answer its P-GET itself (``events.Claims``) instead of waking it to run a round of
its own after the COMMIT: one transaction and one COMMIT fewer per message, on the critical path
from send to delivery."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from ..core.commands import PGet

if TYPE_CHECKING:
    from .events import Answer


class Parked(ABC):
    """A held P-GET as a round needs it. ``claimed``: a transaction took it out of the lot to
    answer it; ``answer``: set once that transaction committed (never before: a P-GET that wakes
    for another reason in between must not answer work that may still roll back)."""

    __slots__ = (
        "answer",
        "app_id",
        "claimed",
        "ended",
        "params",
        "pget_id",
        "started_at",
        "taken",
        "user_uri",
    )

    def __init__(self, app_id: str, user_uri: str, params: PGet, pget_id: str, started_at: float) -> None:
        self.app_id = app_id
        self.user_uri = user_uri
        self.params = params
        self.pget_id = pget_id
        self.started_at = started_at
        self.claimed = False
        self.answer: Answer | None = None
        self.taken: asyncio.Future[None] | None = None  # for a transaction waiting until it is
        self.ended = False

    def took(self) -> None:
        """The held request has its answer in hand (and sends it before it next yields), or has
        ended otherwise."""
        self.ended = True
        if self.taken is not None and not self.taken.done():
            self.taken.set_result(None)

    @abstractmethod
    def wake(self) -> None:
        """Makes the held request look at ``claimed`` and ``answer`` again."""


class ParkingLot:
    """One entry per application: the P-GET parked last (one that replaced it earlier fails the
    round's owner check, and is then left to answer 409 by itself)."""

    def __init__(self) -> None:
        self._by_app: dict[str, Parked] = {}

    def park(self, p: Parked) -> None:
        self._by_app[p.app_id] = p

    def leave(self, p: Parked) -> None:
        if self._by_app.get(p.app_id) is p:
            del self._by_app[p.app_id]

    def claim(self, app_id: str) -> Parked | None:
        p = self._by_app.pop(app_id, None)
        if p is not None:
            p.claimed = True
        return p

    def __len__(self) -> int:
        return len(self._by_app)
