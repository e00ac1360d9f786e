"""The ASGI app in process (httpx.ASGITransport) on a real SQLite file, with a clock moved by hand.

Timers, expiry and held P-GETs are then tested by advancing the clock instead of sleeping: the
reaper sleeps on the same clock, and ``reaper_pass`` waits until it went round once more.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from openucwa.actions.users import hash_password
from openucwa.config import Settings
from openucwa.core.models import User
from openucwa.server.app import OpenUcwa, create_app
from openucwa.store import open_store
from tests.manual_clock import ManualClock

BASE = "http://openucwa.test"
SARA = ("sarad@contoso.com", "Sara Davis", "sara-secret")
LENE = ("lenea@contoso.com", "Lene Aaling", "lene-secret")


@dataclass
class InProcess:
    http: httpx.AsyncClient
    clock: ManualClock
    app: OpenUcwa

    def held(self) -> int:
        """P-GETs this node holds open right now."""
        return self.app.runtime.services.notifier.waiting()

    async def until(self, condition: Callable[[], bool]) -> None:
        """Lets requests in flight run until ``condition`` holds (a bounded while, no sleeping)."""
        async with asyncio.timeout(10):
            while not condition():  # noqa: ASYNC110 - the server has no event for it, and needs none
                await asyncio.sleep(0)

    async def reaper_pass(self, seconds: float) -> None:
        """Moves time on, then waits until the reaper has swept at the new time."""
        started = self.clock.sleeps_started
        self.clock.advance(seconds)
        await self.clock.next_sleep(started)

    async def sign_in(self, user: str, password: str) -> AppSession:
        root = (await self.http.get("/", headers={"Accept": "application/json"})).json()
        challenge = (await self.http.get(root["_links"]["user"]["href"])).headers["www-authenticate"]
        token_url = challenge.split('href="', 1)[1].split('"', 1)[0]
        form = {"grant_type": "password", "username": user, "password": password}
        token = (await self.http.post(token_url, data=form)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        body = {"userAgent": "tests", "endpointId": str(uuid.uuid4()), "culture": "en-US"}
        r = await self.http.post("/ucwa/oauth/v1/applications", json=body, headers=headers)
        assert r.status_code == 201, r.text
        return AppSession(self.http, headers, r.json())


@dataclass
class AppSession:
    http: httpx.AsyncClient
    headers: dict[str, str]
    app: dict[str, Any]

    @property
    def self_href(self) -> str:
        return str(self.app["_links"]["self"]["href"])

    def link(self, *path: str) -> str:
        node: Any = self.app
        for name in path[:-1]:
            node = node["_embedded"][name]
        return str(node["_links"][path[-1]]["href"])

    async def get(self, href: str, **kw: Any) -> httpx.Response:
        return await self.http.get(href, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    async def post(self, href: str, **kw: Any) -> httpx.Response:
        return await self.http.post(href, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    async def delete(self, href: str) -> httpx.Response:
        return await self.http.delete(href, headers=self.headers)


InProcessFactory = Callable[..., AbstractAsyncContextManager[InProcess]]


@pytest.fixture
def in_process(tmp_path: Path) -> InProcessFactory:
    """``async with in_process(app_idle_timeout=3, …) as srv``: settings as keyword overrides."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[InProcess]:
        store = await open_store(None, str(tmp_path))
        try:
            async with store.transaction() as tx:
                for uri, name, password in (SARA, LENE):
                    if await tx.get_user(uri) is None:  # a second start in one test finds them there
                        await tx.add_user(
                            User(uri=uri, name=name, password_hash=hash_password(password), email=uri)
                        )
        finally:
            await store.close()
        clock = ManualClock()
        settings = Settings(**{"data_dir": str(tmp_path), "event_aggregation": False, **overrides})
        app = create_app(settings, clock=clock)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE, timeout=10) as http:
                yield InProcess(http, clock, app)

    return start


async def connect_sara_and_lene(srv: InProcess) -> tuple[AppSession, AppSession, str]:
    """Sara and Lene in a conversation; returns Sara's sendMessage href."""
    sara, lene = await srv.sign_in(*SARA[::2]), await srv.sign_in(*LENE[::2])
    for s in (sara, lene):
        assert (await s.post(s.link("me", "makeMeAvailable"), json={})).status_code == 204
    start = sara.link("communication", "startMessaging")
    r = await sara.post(start, json={"to": "sip:lenea@contoso.com", "operationId": "op"})
    assert r.status_code == 201, r.text
    events = (await lene.get(lene.link("events"))).json()
    invitation = find_event(events, "messagingInvitation")["_embedded"]["messagingInvitation"]
    accept = invitation["_links"]["accept"]["href"]
    assert (await lene.post(accept)).status_code == 204
    mine = (await sara.get(sara.link("communication", "self") + "/conversations")).json()
    conv = (
        mine["_links"]["conversation"][0]["href"]
        if isinstance(mine["_links"]["conversation"], list)
        else mine["_links"]["conversation"]["href"]
    )
    return sara, lene, conv + "/messaging/messages"


def find_event(page: dict[str, Any], rel: str) -> dict[str, Any]:
    for block in page.get("sender", []):
        for e in block["events"]:
            if e["link"]["rel"] == rel:
                return e
    raise AssertionError(f"no {rel} in {page}")
