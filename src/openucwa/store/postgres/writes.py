"""Writes a unit of work does not wait for, and the statements that carry them.

On PostgreSQL every statement is a round trip (asyncpg's client work, the kernel's loopback, a
backend wake-up), and a delivered message used to cost about 35 of them plus BEGIN and COMMIT.
Many are writes whose outcome the unit never reads: the application's update at the end of a P-GET
round, a message's new status, the events queued for a partner, a conversation document. Such a
write waits in ``Deferred`` and goes out as a data-modifying CTE in front of the unit's next
statement, or of the last one before COMMIT: ``WITH _w0 AS (UPDATE …), _w1 AS (INSERT …) SELECT …``.

That is safe because a statement that touches a table with a write waiting is preceded by those
writes on their own (it must see them: a statement does not see its own CTEs' changes), because
two waiting writes never touch one row (a later write of the same kind to the same row replaces
the earlier, one of another kind waits until the earlier has gone: see ``Write.key``), and because
only writes that cannot fail for a reason the caller handles are deferred (a clash that must raise
``DuplicateError`` where it happens is not; a message's insert, whose number its session's lock
makes unique, is: a clash there is a bug, and fails the unit).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ...core.events import Event

_PARAM = re.compile(r"\$(\d+)")
_TABLE = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE)\s+(\w+)", re.IGNORECASE)
_TABLES: dict[str, frozenset[str]] = {}
_COMBINED: dict[tuple[tuple[str, ...], str], str] = {}
_COMBINED_MAX = 4096  # distinct shapes are few; this only bounds a surprise


def tables_of(sql: str) -> frozenset[str]:
    """The tables a statement reads or writes, from its text (compiled SQL: no literals, no comments)."""
    found = _TABLES.get(sql)
    if found is None:
        found = _TABLES[sql] = frozenset(t.lower() for t in _TABLE.findall(sql))
    return found


@dataclass(slots=True)
class Write:
    """One deferred write: SQL text, its arguments, and what identifies the row(s) it changes."""

    sql: str
    args: list[Any]
    kind: str  # a later write of the same kind and key replaces this one
    key: tuple[str, ...]  # the table and the row (or rows) it writes
    fields: dict[str, Any] = field(default_factory=dict)  # an application update's values, to merge

    @property
    def tables(self) -> frozenset[str]:
        return tables_of(self.sql)


def _params(sql: str) -> int:
    return max((int(n) for n in _PARAM.findall(sql)), default=0)


def _shifted(sql: str, by: int) -> str:
    return sql if by == 0 else _PARAM.sub(lambda m: f"${int(m.group(1)) + by}", sql)


def combined(writes: tuple[str, ...], main: str) -> str:
    """``main`` with ``writes`` in front as data-modifying CTEs; arguments go writes first, in order."""
    key = (writes, main)
    sql = _COMBINED.get(key)
    if sql is None:
        parts, offset = [], 0
        for i, w in enumerate(writes):
            parts.append(f"_w{i} AS ({_shifted(w, offset)})")
            offset += _params(w)
        body = _shifted(main, offset)
        if body[:5].upper() == "WITH ":  # main has CTEs of its own: one WITH list
            sql = f"WITH {', '.join(parts)}, {body[5:]}"
        else:
            sql = f"WITH {', '.join(parts)} {body}"
        if len(_COMBINED) >= _COMBINED_MAX:
            _COMBINED.clear()
        _COMBINED[key] = sql
    return sql


class Deferred:
    """The writes a unit holds back, in order; at most one per key."""

    __slots__ = ("writes",)

    def __init__(self) -> None:
        self.writes: list[Write] = []

    def __bool__(self) -> bool:
        return bool(self.writes)

    def add(self, write: Write) -> bool:
        """False, adding nothing, when a write of another kind to the same row waits."""
        for i, w in enumerate(self.writes):
            if w.key == write.key:
                if w.kind != write.kind:
                    return False
                del self.writes[i]
                break
        self.writes.append(write)
        return True

    def holds(self, write: Write) -> bool:
        return any(w is write for w in self.writes)

    def drop(self, write: Write) -> None:
        self.writes = [w for w in self.writes if w is not write]

    def take(self, kind: str, key: tuple[str, ...]) -> Write | None:
        """Removes and returns the waiting write of this kind and key."""
        for i, w in enumerate(self.writes):
            if w.key == key and w.kind == kind:
                return self.writes.pop(i)
        return None

    def touches(self, tables: frozenset[str]) -> bool:
        return any(not w.tables.isdisjoint(tables) for w in self.writes)

    def drain(self) -> tuple[tuple[str, ...], list[Any]]:
        """The waiting writes' SQL and arguments (all of them, in order); forgets them."""
        writes, self.writes = self.writes, []
        args: list[Any] = []
        for w in writes:
            args.extend(w.args)
        return tuple(w.sql for w in writes), args


# Statements written for PostgreSQL ---------------------------------------------------------------

# A produced batch and the removal of the events it consumed, in one statement; a batch number that
# exists inserts nothing and consumes nothing (the caller raises DuplicateError on 0).
STORE_BATCH = (
    "WITH ins AS (INSERT INTO batches (app_id, number, body) VALUES ($1::TEXT, $2::INTEGER, $3::BYTEA)"
    " ON CONFLICT DO NOTHING RETURNING 1),"
    " del AS (DELETE FROM events WHERE events.app_id = $1::TEXT AND events.position = ANY($4::BIGINT[])"
    " AND EXISTS (SELECT FROM ins))"
    " SELECT count(*) FROM ins"
)

# Events queued for one application as one statement whatever their number, positions drawn in the
# given order (``ORDER BY ord``: the sequence's defaults are computed as rows leave the sort).
QUEUE_EVENTS = (
    "INSERT INTO events (app_id, sender_rel, sender_href, body, priority, enqueued_at, merge_key, receipt)"
    " SELECT $1::TEXT, e.rel, e.href, e.body, e.priority, $2::FLOAT8, e.mk, e.rc"
    " FROM unnest($3::TEXT[], $4::TEXT[], $5::TEXT[], $6::INTEGER[], $7::TEXT[], $8::TEXT[])"
    " WITH ORDINALITY AS e(rel, href, body, priority, mk, rc, ord) ORDER BY e.ord"
)


def queue_args(app_id: str, events: Sequence[Event], now: float) -> list[Any]:
    """``QUEUE_EVENTS``'s arguments: one array per column (``rows.event_row``'s values)."""
    return [
        app_id,
        now,
        [ev.sender_rel for ev in events],
        [ev.sender_href for ev in events],
        [orjson.dumps(ev.wire()).decode() for ev in events],
        [int(ev.priority) for ev in events],
        [ev.merge_key for ev in events],
        [None if ev.receipt is None else orjson.dumps(ev.receipt).decode() for ev in events],
    ]


# The last writes of a unit, sent with its COMMIT --------------------------------------------------
# COMMIT cannot share an extended-protocol message with a bound statement, so the writes a unit
# still holds at its end go in one simple-protocol message: ``EXECUTE <prepared>(<values>); COMMIT;
# BEGIN`` (``PREPARE`` in front the first time on a connection). The values are the ones this module
# and ``tx`` bind (str, int, float, bool, None, lists of those), each written as a literal for a
# server with standard_conforming_strings on, which the pool sets at connect so no session can turn
# it off; the prepared statement's parameters have the types its placeholders' casts give them.


def literal(value: Any) -> str:
    """``value`` as an SQL literal; raises ValueError for what cannot be one (a NUL character)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return f"({int(value)})"
    if isinstance(value, float):
        if value != value:
            return "'NaN'"
        if value in (float("inf"), float("-inf")):
            return "'Infinity'" if value > 0 else "'-Infinity'"
        return f"({float(value)!r})"
    if isinstance(value, str):
        text = str.__str__(value)
        if "\x00" in text:
            raise ValueError("a NUL character cannot be stored in PostgreSQL text")
        return "'" + text.replace("'", "''") + "'"
    if isinstance(value, list):
        return f"ARRAY[{', '.join(literal(v) for v in value)}]" if value else "'{}'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def execute_literally(name: str, args: Sequence[Any]) -> str:
    """``EXECUTE name(args…)`` with the arguments written in."""
    return f"EXECUTE {name}({', '.join(literal(a) for a in args)})" if args else f"EXECUTE {name}"
