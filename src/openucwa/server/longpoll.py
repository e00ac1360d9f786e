"""Holding a P-GET open: race the notifier against the client's disconnect and the deadline.

Theory of operation
-------------------
``actions.events.pget_round`` either answers or says "hold until T, past version V". We then wait
for whichever comes first: a wake for this application (someone appended events, replaced this
P-GET, or ended the application), the deadline T (a timeout or a Medium/Low event coming due), or
``http.disconnect``. A wake or deadline means "run another round"; a disconnect frees the channel at
once so no waiter outlives its client.

A server holds thousands of these at once and every byte a held request owns is multiplied by them
(bench/idle_pgets.py, target ≤ 12 KB each, uvicorn and Starlette included). So the request's own task
does all the waiting, with no helper task, future or timer of its own: it awaits ``receive()``, which
returns only when the client goes away, inside an ``asyncio.timeout`` with no deadline, and registers
with the notifier for "version V passed, or T came". The notifier's wake (its shared timer for T)
moves that timeout to "now" (``Timeout.reschedule``): the timeout cancels the pending ``receive()``
and we run another round. A cancelled ``receive()`` loses nothing: a GET has no body to lose, and a
disconnect is reported again by the next ``receive()``.

While it waits, a held P-GET is also parked (``actions.parking``): a transaction that moves its
application (a message to it) may claim it and run its round itself (``events.Claims``). A claimed
request waits on, without the notifier, until that transaction hands it an answer after its COMMIT
or hands it back.

A held P-GET outlives the check of its token: ``HeldRequests`` files it under the token's hash, so
that when the node learns of a revocation (``actions.revocation``, whoever made it) the P-GETs whose
token died are woken to answer 401 rather than wait out their deadline.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import secrets
from collections.abc import Sequence

from starlette.types import Receive

from ..actions import events, users
from ..actions.parking import Parked
from ..actions.services import Services
from ..core.commands import PGet

# A P-GET's owner id must differ from every other P-GET's on any node sharing the database: a random
# prefix per process and a counter (random bytes per request cost a system call each).
_PROCESS = secrets.token_hex(6)
_SERIAL = itertools.count(1)


class _Held(Parked):
    """One held P-GET: the notifier's callback for its current round (end the round's timeout now),
    whether its token was revoked meanwhile (``HeldRequests.revoke``), and, while it waits, its
    place in the node's parking lot (a transaction that moves its application may answer it)."""

    __slots__ = ("deadline", "revoked")

    def __init__(self, app_id: str, user_uri: str, params: PGet, pget_id: str, started_at: float) -> None:
        super().__init__(app_id, user_uri, params, pget_id, started_at)
        self.deadline: asyncio.Timeout | None = None
        self.revoked = False

    def __call__(self, moved: bool) -> None:
        # Already expiring: the round is ending anyway (rescheduling then would raise).
        if self.deadline is not None and not self.deadline.expired():
            self.deadline.reschedule(-math.inf)

    def wake(self) -> None:
        self(True)


class HeldRequests:
    """The P-GETs this node holds, by the hash of the token each came with, so that a revocation
    made anywhere ends exactly those whose token died (``actions.revocation``)."""

    def __init__(self) -> None:
        # Sets: a bot or a test holding thousands of P-GETs with one token adds and removes in O(1).
        self._by_token: dict[str, set[_Held]] = {}
        self.epoch: int | None = None  # the revocation epoch whose revoked tokens were ended

    def tokens(self) -> list[str]:
        return list(self._by_token)

    def observe(self, epoch: int) -> None:
        """Called before ``tokens``: a request registered later checks its token itself."""
        self.epoch = epoch

    def revoke(self, token_hashes: Sequence[str]) -> None:
        for digest in token_hashes:
            for held in self._by_token.get(digest, ()):
                held.revoked = True
                held(True)

    def _add(self, digest: str, held: _Held) -> None:
        self._by_token.setdefault(digest, set()).add(held)

    def _remove(self, digest: str, held: _Held) -> None:
        items = self._by_token[digest]
        items.discard(held)
        if not items:
            del self._by_token[digest]


REVOKED = object()
"""What ``hold`` returns when the request's token was revoked while it was held (answer 401)."""


async def hold(
    svc: Services,
    receive: Receive,
    app_id: str,
    user_uri: str,
    params: PGet,
    requests: HeldRequests,
    token: tuple[str, int | None] | None,
) -> bytes | object | None:
    """The response body, REVOKED, or None when the client went away first.

    ``token``: (its hash, the revocation epoch it was verified under). A revocation the node
    learnt of between that verification and this registration was checked against the held
    requests without this one, so it checks its token itself (rare: only around a revocation).

    One coroutine for the registration and the rounds: each frame a held P-GET keeps is paid ten
    thousand times over (bench/idle_pgets.py).
    """
    pget_id, started = f"{_PROCESS}-{next(_SERIAL)}", svc.clock()
    held = _Held(app_id, user_uri, params, pget_id, started)
    digest = None
    if token is not None:
        digest, epoch = token
        requests._add(digest, held)
    try:
        if digest is not None and requests.epoch is not None and requests.epoch != epoch:
            held.revoked = not await users.token_stands(svc, digest)
        first = True
        notifier, lot = svc.notifier, svc.parked
        while True:
            if held.revoked:  # free the channel: the client comes back with a new token at once
                await events.abandon(svc, app_id, pget_id)
                return REVOKED
            if held.answer is not None:  # a committed transaction answered it (events.Claims)
                return await events.answered(svc, held.answer)
            hold_past: events.Hold | None = None  # None: claimed, wait for a deliver or a release
            within = 0.0
            if not held.claimed:
                result = await events.pget_round(svc, app_id, user_uri, params, pget_id, started, first)
                if isinstance(result, events.Answer):
                    return result.body
                first = False
                within = result.until - svc.clock()
                if within <= 0:
                    continue
                hold_past = result
            waiter = None
            try:
                async with asyncio.timeout(None) as deadline:  # the notifier's timer ends it
                    held.deadline = deadline
                    if hold_past is not None:
                        waiter = notifier.add(app_id, hold_past.version, within, held)
                        if waiter is None:
                            continue  # moved since the round read it: read again
                        lot.park(held)
                    try:
                        # Returns only when the client has gone (a GET's empty body comes first).
                        while (await receive())["type"] != "http.disconnect":
                            pass
                    finally:
                        if waiter is not None:
                            notifier.discard(waiter)
                        lot.leave(held)
                        held.deadline = None
            except TimeoutError:
                continue  # woken, or the deadline came: another round
            await events.abandon(svc, app_id, pget_id)
            return None
    finally:
        # The answer (if any) is sent as this returns, before the loop turns: a message's sender,
        # waiting for this, hears back after the recipient (events.answering).
        held.took()
        if digest is not None:
            requests._remove(digest, held)
