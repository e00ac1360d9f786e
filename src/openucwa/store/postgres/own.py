"""A unit's own queued events, read and batched without a statement while they wait to be sent.

A message's unit queues the message event for the recipient, then (``actions.events.Claims``)
answers the recipient's parked P-GET itself: it reads that queue and produces the batch. When the
queue was known empty before the unit (``queues.KnownEmpty``, at the version the unit's first bump
found), and the unit's events still wait in ``Deferred`` (no statement carried them yet), the queue
is exactly those events: no statement reads it, and a batch that takes them drops their insert
instead of inserting and deleting them. The recipient's P-GET round in a message's unit and the
sender's in the recipient's round are two round trips fewer each, and the store learns the queue
empty again for the P-GET that follows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ...core.events import Event, StoredEvent
from ..sql.channel import stored_event
from ..sql.rows import event_row
from .writes import Deferred, Write


@dataclass(frozen=True, slots=True)
class Own:
    """Events a unit queued for one application, waiting to be sent (``write``)."""

    write: Write
    events: Sequence[Event]
    now: float


class OwnQueues:
    __slots__ = ("_deferred", "_empty_before", "_offered", "_own")

    def __init__(self, deferred: Deferred) -> None:
        self._deferred = deferred
        self._own: dict[str, list[Own]] = {}
        self._empty_before: dict[str, bool] = {}  # as the unit's first bump found the queue
        # What ``offer`` gave: the list it read (the one ``add`` appends to), how long it was, and
        # the queue made of it.
        self._offered: dict[str, tuple[list[Own], int, list[StoredEvent]]] = {}

    def bumped(self, app_id: str, empty_before: bool) -> None:
        """The unit bumped the row; only the first bump's finding counts (a later one finds the
        unit's own version, which ``KnownEmpty`` never holds)."""
        self._empty_before.setdefault(app_id, empty_before)

    def queued_elsewhere(self, app_ids: Iterable[str]) -> None:
        """Events went straight into the table (a fan-out): the queue is not the unit's own."""
        self._empty_before.update(dict.fromkeys(app_ids, False))

    def add(self, app_id: str, write: Write, events: Sequence[Event], now: float) -> None:
        self._own.setdefault(app_id, []).append(Own(write, events, now))

    def offer(self, app_id: str) -> list[StoredEvent] | None:
        """The application's queue when it is only the unit's events not sent yet; else None."""
        own = self._own.get(app_id)
        if not own or not self._empty_before.get(app_id) or not self._waiting(own):
            return None
        rows = [event_row(app_id, ev, o.now) for o in own for ev in o.events]
        # Positions only order a queue and name what a batch took: these never reach the table.
        queued = [stored_event({**r, "position": i - len(rows)}) for i, r in enumerate(rows)]
        self._offered[app_id] = (own, len(own), queued)
        return queued

    def take(self, app_id: str) -> tuple[list[Own], list[StoredEvent]] | None:
        """What ``offer`` gave, if it is still the queue, its writes dropped; else None."""
        offered = self._offered.pop(app_id, None)
        if offered is None:
            return None
        own, count, queued = offered
        if self._own.get(app_id) is not own or len(own) != count or not self._waiting(own):
            return None
        del self._own[app_id]
        for o in own:
            self._deferred.drop(o.write)
        return own, queued

    def put_back(self, app_id: str, own: list[Own]) -> None:
        """As it was before ``take`` (each write's key is its own: adding never clashes)."""
        for o in own:
            self._deferred.add(o.write)
        self._own[app_id] = own

    def _waiting(self, own: list[Own]) -> bool:
        return all(self._deferred.holds(o.write) for o in own)


def left_after(
    own: list[Own], offered: list[StoredEvent], taken: set[int]
) -> list[tuple[list[Event], float]]:
    """The events a batch did not take, grouped as they were queued (with their time)."""
    positions = iter(e.position for e in offered)
    left = []
    for o in own:
        rest = [ev for ev in o.events if next(positions) not in taken]
        if rest:
            left.append((rest, o.now))
    return left
