"""``store.postgres.writes.literal``: the closing message writes values into SQL, so every value the
store writes must come back from PostgreSQL exactly as given, and none may end the statement."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from openucwa.store.postgres.writes import literal

from .conftest import _maintenance_connection

pytestmark = pytest.mark.postgres

TEXT = st.text(st.characters(exclude_characters="\x00", codec="utf-8"), max_size=200)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    TEXT,
)


@pytest.fixture
def connection() -> Any:
    loop = asyncio.new_event_loop()
    conn, _ = loop.run_until_complete(_maintenance_connection())
    # as the store's pool sets it at connect (store.postgres.create_pool)
    loop.run_until_complete(conn.execute("SET standard_conforming_strings = on"))
    yield loop, conn
    loop.run_until_complete(conn.close())
    loop.close()


def _round_trip(connection: Any, value: Any, cast: str = "") -> Any:
    loop, conn = connection
    return loop.run_until_complete(conn.fetchval(f"SELECT {literal(value)}{cast}"))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=SCALARS)
@example(value=-(2**63))
@example(value=2**63 - 1)
@example(value="it's \\ a $1 'quote'")
@example(value=5e-324)
def test_every_value_comes_back_as_written(connection: Any, value: Any) -> None:
    cast = "::float8" if isinstance(value, float) else ("::text" if isinstance(value, str) else "")
    got = _round_trip(connection, value, cast)
    assert (got == value and type(got) is type(value)) or (value is None and got is None)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(TEXT, min_size=1, max_size=5))
def test_text_arrays_come_back_as_written(connection: Any, values: list[str]) -> None:
    assert _round_trip(connection, values, "::text[]") == values


def test_a_nul_character_is_refused_before_it_reaches_the_database() -> None:
    with pytest.raises(ValueError):
        literal("a\x00b")


def test_no_value_ends_the_statement(connection: Any) -> None:
    loop, conn = connection
    hostile = "'); DROP TABLE pg_temp.victim; --"
    loop.run_until_complete(conn.execute("CREATE TEMP TABLE victim (x int)"))
    got = loop.run_until_complete(conn.fetchval(f"SELECT {literal(hostile)}::text"))
    assert got == hostile
    assert loop.run_until_complete(conn.fetchval("SELECT count(*) FROM pg_temp.victim")) == 0
    with pytest.raises(asyncpg.PostgresError):  # and a statement really can fail here
        loop.run_until_complete(conn.fetchval("SELECT nonexistent_column"))
