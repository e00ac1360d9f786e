"""Event-channel decisions for one application (SPEC §8).

Theory of operation
-------------------
The channel keeps three things: a queue of *unnumbered* events, the batches already produced (each
with its number and its exact bytes), and the numbers ``lowest`` (first batch not acknowledged) and
``next`` (number the next batch will get). A P-GET asks for batch ``ack``:

* ``ack`` outside ``[lowest, next]`` (or missing): the client is out of step → resync to ``lowest``;
* ``ack < next``: that batch was produced and its answer lost → replay it unchanged;
* ``ack == next``: batches below ``ack`` are acknowledged (pruned) and the request waits until the
  release rules say the queue is due, then every queued event becomes batch ``ack``.

Events are numbered only when a batch is produced, so nothing is lost if a response is lost (replay)
and nothing is duplicated (a batch is produced once). ``decide`` is a pure function of the stored
state, the request and ``now``; the store applies what it returns inside one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .events import Priority, StoredEvent

TIMEOUT_RANGE = (180, 1800)
MEDIUM_RANGE = (5, 1800)
LOW_RANGE = (5, 1800)


def _clamp(value: int, bounds: tuple[int, int]) -> int:
    return max(bounds[0], min(bounds[1], value))


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """``timeout``/``low``/``medium`` as remembered by the channel (SPEC §8.1)."""

    timeout: int = 180
    low: int = 15
    medium: int = 5

    def updated(self, timeout: int | None, low: int | None, medium: int | None) -> ChannelSettings:
        """Values out of range are clamped, as the sample client itself does."""
        return ChannelSettings(
            timeout=self.timeout if timeout is None else _clamp(timeout, TIMEOUT_RANGE),
            low=self.low if low is None else _clamp(low, LOW_RANGE),
            medium=self.medium if medium is None else _clamp(medium, MEDIUM_RANGE),
        )


@dataclass(frozen=True, slots=True)
class ChannelState:
    lowest: int = 1
    next: int = 1
    settings: ChannelSettings = ChannelSettings()
    resume_pending: bool = False


@dataclass(frozen=True, slots=True)
class Resync:
    ack: int


@dataclass(frozen=True, slots=True)
class Replay:
    number: int


@dataclass(frozen=True, slots=True)
class Produce:
    number: int
    with_events: bool
    resume: bool = False


@dataclass(frozen=True, slots=True)
class Wait:
    until: float


Decision = Resync | Replay | Produce | Wait


def acknowledge(state: ChannelState, ack: int) -> ChannelState:
    """``ack=N`` acknowledges every batch below N; a stale or future ack changes nothing."""
    if state.lowest <= ack <= state.next:
        return replace(state, lowest=ack)
    return state


def due_at(queued: Sequence[StoredEvent], settings: ChannelSettings, aggregation: bool) -> float | None:
    """When the queue must be released (SPEC §8.5 rules 1–3); None for an empty queue."""
    due: float | None = None
    for ev in queued:
        if not aggregation or ev.priority is Priority.HIGH:
            t = ev.enqueued_at
        elif ev.priority is Priority.MEDIUM:
            t = ev.enqueued_at + settings.medium
        else:
            t = ev.enqueued_at + settings.low
        due = t if due is None or t < due else due
    return due


def decide(
    state: ChannelState,
    ack: int | None,
    queued: Sequence[StoredEvent],
    *,
    now: float,
    started_at: float,
    aggregation: bool = True,
) -> Decision:
    """What to answer a P-GET for batch ``ack`` that arrived at ``started_at``."""
    if ack is None or not state.lowest <= ack <= state.next:
        return Resync(state.lowest)
    if ack < state.next:
        return Replay(ack)
    if state.resume_pending:
        return Produce(ack, with_events=False, resume=True)
    timeout_at = started_at + state.settings.timeout
    due = due_at(queued, state.settings, aggregation)
    if due is not None and due <= now:
        return Produce(ack, with_events=True)
    if timeout_at <= now:
        # The hold time is over; whatever is queued goes along rather than waiting one more poll.
        return Produce(ack, with_events=bool(queued))
    return Wait(timeout_at if due is None else min(due, timeout_at))


def merge(events: Sequence[StoredEvent], aggregation: bool = True) -> list[StoredEvent]:
    """Drop an ``updated`` event when a later ``updated`` for the same target follows (SPEC §8.6).

    The survivor keeps its own (later) place, so order is never changed; ``added``, ``deleted``,
    operation events and messages have no merge key and always survive.
    """
    if not aggregation:
        return list(events)
    last_index: dict[str, int] = {}
    for i, ev in enumerate(events):
        if ev.merge_key is not None:
            last_index[ev.merge_key] = i
    return [ev for i, ev in enumerate(events) if ev.merge_key is None or last_index[ev.merge_key] == i]


def within_bytes(
    events: Sequence[StoredEvent], limit: int, size: Callable[[StoredEvent], int]
) -> list[StoredEvent]:
    """The longest prefix of the queue whose events fit in ``limit`` bytes, and never less than one
    event: a peer that does not poll must not make the next batch unbounded (the rest stays queued
    for the next P-GET, in order, and nothing is lost)."""
    if len(events) < 2:
        return list(events)
    total = 0
    for i, ev in enumerate(events):
        total += size(ev)
        if total > limit and i > 0:
            return list(events[:i])
    return list(events)
