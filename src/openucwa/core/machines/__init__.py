"""The conversation state machines (SPEC §14–§17), one module each, sharing one shape.

Theory of operation, after h11's ``_state.py``: each machine is an ``Enum`` of states, an ``Enum``
of triggers and one table ``TRANSITIONS[(state, trigger)] -> state``. Nothing else changes a state:
``step`` looks the pair up and returns the new state, or raises ``IllegalTransition`` and the
caller's state is left as it was (``step`` never mutates). Because every legal move is a row of a
table, the tests walk the tables, and a diagram could be generated from them.

``IllegalTransition`` is a ``UcwaError`` (409 Conflict): a client asking for an operation the
resource's state does not allow (accepting an invitation twice, sending on a disconnected
conversation) gets the catalogue's answer without a special case at the edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from ..errors import CONFLICT, UcwaError

S = TypeVar("S", bound=Enum)
T = TypeVar("T", bound=Enum)


class IllegalTransition(UcwaError):
    """A trigger that the machine's table does not allow in the current state."""

    def __init__(self, machine: str, state: Enum, trigger: Enum, message: str | None = None) -> None:
        super().__init__(CONFLICT, message or f"The {machine} cannot {trigger.value} while {state.value}.")
        self.machine = machine
        self.state = state
        self.trigger = trigger


@dataclass(frozen=True, slots=True)
class Machine(Generic[S, T]):
    """A named transition table; ``states`` and ``triggers`` are the Enum types it ranges over."""

    name: str
    states: type[S]
    triggers: type[T]
    transitions: Mapping[tuple[S, T], S]

    def step(self, state: S, trigger: T, message: str | None = None) -> S:
        try:
            return self.transitions[(state, trigger)]
        except KeyError:
            raise IllegalTransition(self.name, state, trigger, message) from None

    def allows(self, state: S, trigger: T) -> bool:
        return (state, trigger) in self.transitions

    def terminal(self, state: S) -> bool:
        """No trigger leads anywhere from here."""
        return not any(s is state for s, _ in self.transitions)
