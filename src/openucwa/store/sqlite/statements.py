"""The hot statements compiled once for SQLite and run on the sqlite3 connection directly.

SQLAlchemy's per-execution work (cache key, execution context, result metadata) costs about ten
times what SQLite itself spends on these one-row statements, so they skip it: each (statement,
parameter names) pair is compiled once, with the result columns and type processors SQLAlchemy
itself would use, and its rows come back in the shape of SQLAlchemy's Result.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

_DIALECT = sqlite.dialect(paramstyle="named")
_Processor = Callable[[Any], Any] | None
# (statement, parameter names) -> (sql, constant parameters, column names, result processors)
_Compiled = tuple[str, dict[str, Any], tuple[str, ...], tuple[_Processor, ...]]
_COMPILED: dict[tuple[sa.Executable, tuple[str, ...]], _Compiled] = {}


def _compile(stmt: sa.Executable, keys: tuple[str, ...]) -> _Compiled:
    compiled = cast(sa.ClauseElement, stmt).compile(dialect=_DIALECT, column_keys=list(keys))
    constants = {k: v for k, v in compiled.params.items() if k not in keys and v is not None}
    columns = compiled._result_columns or []  # the names and types SQLAlchemy itself would use
    names = tuple(c.keyname for c in columns)
    procs = tuple(c.type._cached_result_processor(_DIALECT, None) for c in columns)
    entry = _COMPILED[(stmt, keys)] = (str(compiled), constants, names, procs)
    return entry


def execute(raw: sqlite3.Connection, stmt: sa.Executable, params: Any = None) -> _Rows:
    """Runs ``stmt`` with ``params`` (a list: executemany), raising what SQLAlchemy would raise."""
    many = isinstance(params, list)
    first: Mapping[str, Any] = (params[0] if params else {}) if many else (params or {})
    keys = tuple(first)
    entry = _COMPILED.get((stmt, keys)) or _compile(stmt, keys)
    sql, constants, names, procs = entry
    try:
        if many:
            rows = [{**constants, **p} for p in params] if constants else params
            return _Rows(raw.executemany(sql, rows), names, procs)
        return _Rows(raw.execute(sql, {**constants, **first} if constants else first), names, procs)
    except sqlite3.Error as exc:  # the same exceptions SQLAlchemy would raise
        raise sa.exc.DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc


class _Rows:
    """The slice of SQLAlchemy's Result that SqlTx reads, over a plain sqlite3 cursor."""

    def __init__(self, cursor: sqlite3.Cursor, names: tuple[str, ...], procs: tuple[_Processor, ...]) -> None:
        self._cursor = cursor
        self._names = names
        self._procs = procs if any(procs) else None
        self.rowcount = cursor.rowcount

    def _convert(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        if self._procs is None:
            return row
        return tuple(v if f is None or v is None else f(v) for f, v in zip(self._procs, row, strict=True))

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return (self._convert(r) for r in self._cursor)

    def all(self) -> list[tuple[Any, ...]]:
        return list(self)

    def first(self) -> tuple[Any, ...] | None:
        row = self._cursor.fetchone()
        self._cursor.close()  # the rest is not wanted; a statement left mid-way blocks COMMIT
        return None if row is None else self._convert(row)

    def scalar_one_or_none(self) -> Any:
        row = self.first()
        return None if row is None else row[0]

    def scalars(self) -> list[Any]:
        return [r[0] for r in self]

    def mappings(self) -> _Mappings:
        return _Mappings(self)


class _Mappings:
    def __init__(self, rows: _Rows) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[dict[str, Any]]:
        names = self._rows._names
        return (dict(zip(names, r, strict=True)) for r in self._rows)

    def first(self) -> dict[str, Any] | None:
        row = self._rows.first()
        return None if row is None else dict(zip(self._rows._names, row, strict=True))
