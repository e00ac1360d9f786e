"""What the lifespan builds and the routes use: Services once started, plus per-node caches."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..actions.services import Services
from ..actions.users import TokenCache
from ..config import Settings
from ..core.batching import Outstanding
from ..metrics import Metrics
from .base import HostPolicy
from .longpoll import HeldRequests


@dataclass
class Runtime:
    settings: Settings
    tokens: TokenCache = field(default_factory=TokenCache)
    held: HeldRequests = field(default_factory=HeldRequests)
    hosts: HostPolicy = field(init=False)
    password_checks: asyncio.Semaphore = field(init=False)  # queued, never more at once
    metrics: Metrics = field(default_factory=Metrics)
    batched: Outstanding = field(default_factory=Outstanding)  # batch parts in flight per user
    _services: Services | None = None

    def __post_init__(self) -> None:
        self.hosts = HostPolicy(self.settings)
        self.password_checks = asyncio.Semaphore(max(1, self.settings.password_checks))

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the server has not started")
        return self._services

    def start(self, services: Services) -> None:
        self._services = services
