"""Statements compiled by SQLAlchemy for asyncpg and run on the asyncpg connection directly.

SQLAlchemy's asyncio layer costs several times what PostgreSQL spends on a one-row statement: a
greenlet switch, the execution context, the result metadata and an adapter cursor per statement.
So ``SqlTx`` on PostgreSQL sends the SQL text itself: each statement is compiled once by
SQLAlchemy (the hot ones of ``sql/statements.py`` by identity, like ``store/sqlite/statements.py``
does; any other once per call), and asyncpg prepares it once per connection (its statement cache)
and then runs it in one round trip. Errors come back as the SQLAlchemy exceptions ``SqlTx`` expects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.sql.compiler import SQLCompiler

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]
_Processor = Callable[[Any], Any] | None
# sql, ((name, processor) in $n order), constants, result column names (empty: no rows returned)
_Compiled = tuple[str, tuple[tuple[str, _Processor], ...], dict[str, Any], tuple[str, ...]]
_COMPILED: dict[tuple[sa.Executable, tuple[str, ...]], _Compiled] = {}
_POSTCOMPILE = {"render_postcompile": True}  # IN lists become one bind per value


def compile_statement(stmt: sa.Executable, keys: tuple[str, ...]) -> _Compiled:
    clause = cast(sa.ClauseElement, stmt)
    compiled = cast(
        SQLCompiler, clause.compile(dialect=_DIALECT, column_keys=list(keys), compile_kwargs=_POSTCOMPILE)
    )
    procs = cast(dict[str, _Processor], compiled._bind_processors)  # no tuple types here: one each
    order = tuple((name, procs.get(name)) for name in compiled.positiontup or ())
    constants = {k: v for k, v in compiled.params.items() if k not in keys and v is not None}
    names = tuple(c.keyname for c in compiled._result_columns or ())
    return str(compiled), order, constants, names


def compiled_once(stmt: sa.Executable, keys: tuple[str, ...]) -> _Compiled:
    """For the statements of ``sql/statements.py``, which live as long as the process."""
    entry = _COMPILED.get((stmt, keys))
    if entry is None:
        entry = _COMPILED[(stmt, keys)] = compile_statement(stmt, keys)
    return entry


def _args(entry: _Compiled, params: Mapping[str, Any]) -> list[Any]:
    _, order, constants, _ = entry
    out = []
    for name, proc in order:
        value = params[name] if name in params else constants.get(name)
        out.append(value if proc is None or value is None else proc(value))
    return out


def args_of(entry: _Compiled, params: Mapping[str, Any] | None) -> list[Any]:
    """The statement's positional arguments, in ``$n`` order, from its named parameters."""
    return _args(entry, params or {})


async def execute(conn: asyncpg.Connection, entry: _Compiled, params: Any = None) -> Rows:
    """Runs a compiled statement (a list of parameter sets: once per set, in one round trip)."""
    sql, _, _, names = entry
    if isinstance(params, list):
        try:
            await conn.executemany(sql, [_args(entry, p) for p in params])
        except asyncpg.PostgresError as exc:
            raise _translated(sql, exc) from exc
        return Rows([], names, -1)
    return await run(conn, sql, _args(entry, params or {}), names)


async def run(conn: asyncpg.Connection, sql: str, args: Sequence[Any], names: tuple[str, ...]) -> Rows:
    """Runs SQL text with positional arguments; ``names``: the result's columns (none: no rows)."""
    try:
        if names:
            records = await conn.fetch(sql, *args)
            return Rows(records, names, len(records))
        status = await conn.execute(sql, *args)
    except asyncpg.PostgresError as exc:
        raise _translated(sql, exc) from exc
    tail = status.rpartition(" ")[2]
    return Rows([], names, int(tail) if tail.isdigit() else -1)


def _translated(sql: str, exc: asyncpg.PostgresError) -> sa.exc.DBAPIError:
    """As SQLAlchemy raises it; the original keeps ``sqlstate`` (deadlock, serialization failure…)."""
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return sa.exc.IntegrityError(sql, None, exc)
    return sa.exc.DBAPIError(sql, None, exc)


class Rows:
    """The slice of SQLAlchemy's Result that SqlTx reads, over the records asyncpg returned."""

    __slots__ = ("_names", "_records", "rowcount")

    def __init__(self, records: list[Any], names: tuple[str, ...], rowcount: int) -> None:
        self._records = records
        self._names = names
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return (tuple(r) for r in self._records)

    def all(self) -> list[tuple[Any, ...]]:
        return list(self)

    def first(self) -> tuple[Any, ...] | None:
        return tuple(self._records[0]) if self._records else None

    def one(self) -> tuple[Any, ...]:
        if len(self._records) != 1:
            raise sa.exc.NoResultFound("expected exactly one row")
        return tuple(self._records[0])

    def scalar(self) -> Any:
        return self._records[0][0] if self._records else None

    scalar_one_or_none = scalar

    def scalars(self) -> _Scalars:
        return _Scalars(r[0] for r in self._records)

    def mappings(self) -> _Mappings:
        return _Mappings(self._records, self._names)


class _Scalars(list[Any]):
    """First columns, read as SQLAlchemy's ScalarResult is (iterated, or ``.all()``)."""

    def all(self) -> list[Any]:
        return list(self)


class _Mappings:
    __slots__ = ("_names", "_records")

    def __init__(self, records: list[Any], names: tuple[str, ...]) -> None:
        self._records = records
        self._names = names

    def __iter__(self) -> Iterator[dict[str, Any]]:
        names = self._names
        return (dict(zip(names, r, strict=True)) for r in self._records)

    def first(self) -> dict[str, Any] | None:
        return dict(zip(self._names, self._records[0], strict=True)) if self._records else None
