"""Revocations made outside this node reach the requests it holds.

``openucwa user remove``, ``user passwd`` and ``directory sync`` run in a process of their own, and
another node may revoke too; their wakes do not reach this node's parked P-GETs (without Redis,
nobody publishes to it at all). What every writer does leave is the shared revocation counter
(``users.REVOCATION``). So each node reads it every ``REVOCATION_CHECK`` seconds, whether or not
requests come in, and when it moved: empties the token cache, asks the store which tokens of its
held P-GETs still stand and ends the others (the client sees 401 at once), and re-reads the
version of every application it has waiters for, waking those another process changed (an ended
application, a contact shown Offline) as the bus would have.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Protocol

from .services import Services
from .users import REVOCATION, REVOCATION_CHECK, TokenCache

log = logging.getLogger(__name__)


class HeldTokens(Protocol):
    """The node's held requests, by the hash of the token each came with."""

    def observe(self, epoch: int) -> None:
        """The epoch ``tokens`` is about to be checked for (requests registered later check themselves)."""

    def tokens(self) -> Sequence[str]: ...

    def revoke(self, token_hashes: Sequence[str]) -> None:
        """Ends the held requests of these tokens (they answer 401)."""


async def catch_up(svc: Services, held: HeldTokens, epoch: int) -> None:
    """What a revocation made elsewhere (counted up to ``epoch``) means for the requests this node holds."""
    held.observe(epoch)
    digests = held.tokens()
    if digests:
        async with svc.store.transaction() as tx:
            valid = await tx.valid_tokens(digests)
        if revoked := [d for d in digests if d not in valid]:
            held.revoke(revoked)
    waiting = svc.notifier.waiting_apps()
    if waiting:
        async with svc.store.transaction() as tx:
            versions = await tx.application_versions(waiting)
        for app_id, version in versions.items():
            svc.notifier.notify(app_id, version)


async def watch(svc: Services, cache: TokenCache, held: HeldTokens, every: float = REVOCATION_CHECK) -> None:
    """Runs for the node's life; ``every`` is in real seconds (a revocation is a real-time promise)."""
    seen: int | None = None
    while True:
        await asyncio.sleep(every)
        try:
            read_at = time.monotonic()
            async with svc.store.transaction() as tx:
                epoch = await tx.get_counter(REVOCATION)
            # Requests read it too when it is older than REVOCATION_CHECK (``verify_token``): this
            # read spares them that while the watch keeps up, on the path of every message.
            cache.observe(epoch, read_at)
            if epoch == seen:
                continue
            if seen is None:
                held.observe(epoch)
            else:
                await catch_up(svc, held, epoch)
            seen = epoch
        except Exception:  # a database hiccup must not end the watch
            log.exception("revocation check failed")
