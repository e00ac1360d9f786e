"""What every part of ``SqlTx`` stands on: the open connection, statement runs, clash-safe inserts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..interface import DuplicateError
from .statements import insert_statement

T = TypeVar("T")
IN_CHUNK = 500  # values per IN (…): well under SQLite's and asyncpg's parameter limits


def chunked(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size``, in order: one statement each."""
    for lo in range(0, len(values), size):
        yield list(values[lo : lo + size])


_UNIQUE_SQLITE = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})


def _is_unique_violation(exc: IntegrityError) -> bool:
    """Only key clashes are DuplicateError; a foreign-key failure is a caller bug and must surface."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == "23505" or getattr(orig, "pgcode", None) == "23505":
        return True
    if getattr(orig, "sqlite_errorname", None) in _UNIQUE_SQLITE:
        return True
    return "UNIQUE constraint failed" in str(orig)


class TxBase:
    """The open connection a part of ``SqlTx`` works on (see ``store.py``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def _run(self, stmt: sa.Executable, params: Any = None) -> Any:
        """Executes a statement (a prepared one of ``statements.py``, mostly) with its parameters.

        A list of parameter sets runs it once per set (executemany).
        """
        return await self._conn.execute(stmt, params)

    def _clash_guard(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """A savepoint keeps the transaction usable after a clash (PostgreSQL would abort it)."""
        return self._conn.begin_nested()

    async def _insert(self, table: sa.Table, values: Mapping[str, Any]) -> None:
        try:
            async with self._clash_guard():
                await self._run(insert_statement(table), dict(values))
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise DuplicateError(str(exc.orig)) from exc
            raise
