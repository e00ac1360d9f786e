"""Event queues this node knows to be empty, so that a P-GET re-armed on one reads nothing.

After a P-GET's answer the client comes straight back (``ack=N``), and that round found the queue
empty in nine cases out of ten: the batch it acknowledges took every queued event. The SQLite store
keeps that knowledge with its cached applications; across processes it must be checked against the
database. It can be, for free: every event queued for an application bumps the application's
``version`` in the same transaction, under the row's lock (``append_events``,
``append_events_many``), and a round reads the row, version included, when it takes that lock.
So "the queue was empty when the row was at version V", learnt under the lock and kept only once
the transaction committed, still holds while the row is at V, whichever node queued what since.
"""

from __future__ import annotations

from collections.abc import Mapping


class KnownEmpty:
    """Application → the version of its row when its queue was last seen empty (committed)."""

    LIMIT = 100_000  # entries; past it everything is forgotten (a hint, never the truth)

    def __init__(self) -> None:
        self._at: dict[str, int] = {}

    def empty_at(self, app_id: str, version: int) -> bool:
        return self._at.get(app_id) == version

    def learn(self, seen: Mapping[str, int]) -> None:
        """What a transaction saw, once it committed."""
        if len(self._at) + len(seen) > self.LIMIT:
            self._at.clear()
        self._at.update(seen)
