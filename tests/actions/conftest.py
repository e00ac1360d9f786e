"""Use cases on a real SQLite file, the in-process bus and a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from openucwa.actions import applications
from openucwa.actions.services import Services
from openucwa.bus.local import LocalBus
from openucwa.bus.notifier import Notifier
from openucwa.config import Settings
from openucwa.core import commands
from openucwa.core.conversation import ConvView
from openucwa.core.models import User
from openucwa.store import open_store
from tests.manual_clock import ManualClock

TOSH, LENE, SARA = "toshm@contoso.com", "lenea@contoso.com", "sara@contoso.com"


@dataclass
class World:
    svc: Services
    clock: ManualClock
    apps: dict[str, str] = field(default_factory=dict)  # user → application id

    async def app(self, user: str, endpoint: str = "e1", available: bool = True) -> str:
        create = commands.create_application(
            {"userAgent": "tests", "endpointId": endpoint, "culture": "en-US"}
        )
        app, _, _ = await applications.create(self.svc, user, create)
        if available:
            await applications.make_me_available(self.svc, app.id, user, commands.make_me_available({}))
        self.apps.setdefault(user, app.id)
        return app.id

    async def events(self, app_id: str) -> list[tuple[str, str, str | None]]:
        """(rel, type, status) of every event queued for the application, then forgets them."""
        async with self.svc.store.transaction() as tx:
            queued = await tx.queued_events(app_id)
            await tx.discard_queued(app_id)
        return [(e.body["link"]["rel"], e.body["type"], e.body.get("status")) for e in queued]

    async def views(self, app_id: str) -> list[ConvView]:
        async with self.svc.store.transaction() as tx:
            return await tx.list_conversations(app_id)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(data_dir=str(tmp_path), invitation_timeout=30.0, typing_timeout=5.0)
    store = await open_store(None, str(tmp_path))
    clock = ManualClock()
    notifier = Notifier(clock)
    svc = Services(store=store, bus=LocalBus(notifier), notifier=notifier, settings=settings, clock=clock)
    async with store.transaction() as tx:
        for uri, name in ((TOSH, "Tosh Meston"), (LENE, "Lene Aaling"), (SARA, "Sara Davis")):
            await tx.add_user(User(uri=uri, name=name, password_hash="x", email=uri))
    try:
        yield World(svc, clock)
    finally:
        await store.close()


def rels(events: list[tuple[str, str, str | None]]) -> list[str]:
    return [f"{rel} {kind}" + (f" {status}" if status else "") for rel, kind, status in events]


def only(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]
