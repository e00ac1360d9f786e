"""SDK tests: both drivers (sync ``Session`` in a worker thread, ``AsyncSession``) behind one adapter.

The client suite runs against SQLite only, to keep it quick; the server's own suites cover Postgres.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from openucwa.client import AsyncSession, Notification, Session

PASSWORDS = {
    "toshm@contoso.com": "tosh-secret",
    "lenea@contoso.com": "lene-secret",
    "sarad@contoso.com": "sara-secret",
}


@pytest.fixture(scope="session", params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Party:
    """One user's session, driven the same way whatever the driver: ``await p.call("name", ...)``."""

    def __init__(self, mode: str, session: Session | AsyncSession) -> None:
        self.mode = mode
        self.s = session

    async def call(self, name: str, *args: Any, **kw: Any) -> Any:
        fn = getattr(self.s, name)
        if self.mode == "sync":
            return await asyncio.to_thread(fn, *args, **kw)
        return await fn(*args, **kw)

    def collect(
        self, want: Callable[[list[Notification]], bool], duration: float = 15.0
    ) -> asyncio.Task[list[Notification]]:
        """A task that listens until ``want(notifications so far)`` (or ``duration`` passed)."""
        if isinstance(self.s, Session):
            sync = self.s

            def run() -> list[Notification]:
                got: list[Notification] = []
                for n in sync.listen(duration):
                    got.append(n)
                    if want(got):
                        break
                return got

            return asyncio.ensure_future(asyncio.to_thread(run))

        session = self.s

        async def arun() -> list[Notification]:
            got: list[Notification] = []
            async for n in session.listen(duration):
                got.append(n)
                if want(got):
                    break
            return got

        return asyncio.ensure_future(arun())


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def people(mode: str) -> AsyncIterator[Callable[..., Any]]:
    """``await people(server, "lenea@contoso.com", **session_kw)`` → an opened Party; closed afterwards."""
    made: list[Party] = []

    async def make(server: Any, user: str, password: str | None = "", **kw: Any) -> Party:
        pw = PASSWORDS[user] if password == "" else password
        cls = Session if mode == "sync" else AsyncSession
        p = Party(mode, cls(server.base, user, pw, **kw))
        made.append(p)
        await p.call("open")
        return p

    yield make
    for p in made:
        try:
            await p.call("close")
        except Exception:
            pass
