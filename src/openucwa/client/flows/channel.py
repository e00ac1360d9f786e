"""The event channel (SPEC §8): P-GET steps, the entries they record, and waiting for them."""

from __future__ import annotations

import httpx

from ..errors import NetworkError, PGetReplaced, ProtocolError, TimedOut, response_error
from ..models import Event, Notification, absolute, parse_page
from .application import ApplicationFlows, body_of
from .instructions import Await, Entry, Flow, Sleep

PGET_READ_TIMEOUT = 240.0  # above the server's longest P-GET (timeout default 180 s)


class ChannelFlows(ApplicationFlows):
    # -- the event channel (SPEC §8) --------------------------------------------------------------

    def entries_since(self, cursor: int) -> list[Entry]:
        first = self.log_end - len(self.log)
        return list(self.log)[max(cursor, first) - first :]

    def _record(self, events: list[Event]) -> list[Notification]:
        notes: list[Notification] = []
        for ev in events:
            n = tuple(self.state.apply(ev))
            self.log.append(Entry(ev, n))
            self.log_end += 1
            notes += n
        return notes

    def pget(self, wait: float | None = None) -> Flow[list[Notification]]:
        """One step of the channel: P-GET ``next``, record the events, return the notifications.

        With ``wait``, give up after that many seconds and return no notifications: a P-GET cut
        short by the client is simply asked again later (batches are numbered only when produced).

        Network failures and 5xx are retried with back-off for ``reconnect_window`` seconds (a
        server restart); 404/410 mean the application is gone: create it again and carry on.
        """
        delay, waited = 0.25, 0.0
        while True:
            if not self.next_href:
                yield from self.create_application()
            assert self.next_href
            read = PGET_READ_TIMEOUT if wait is None else max(0.2, min(wait, PGET_READ_TIMEOUT))
            try:
                r: httpx.Response | None = yield from self.call("GET", self.next_href, timeout=read)
            except TimedOut:
                if wait is not None:
                    return []
                r = None
            except NetworkError:
                r = None
            if r is None or r.status_code >= 500:
                if self.reconnect_window is not None and waited >= self.reconnect_window:
                    raise NetworkError(f"lost the event channel for {waited:.0f} s")
                yield Sleep(delay)
                waited += delay
                delay = min(delay * 2, 2.0)
                continue
            body = body_of(r)
            if r.status_code == 200 and isinstance(body, dict):
                links = body.get("_links") or {}
                base = str(r.request.url)
                if "resync" in links:
                    self.next_href = absolute(base, links["resync"]["href"])
                    return []
                nxt = links.get("next") or links.get("resume")
                if not nxt:
                    raise ProtocolError("event channel response without a next link")
                self.next_href = absolute(base, nxt["href"])
                if "resume" in links:
                    self.state.reset()
                return self._record(parse_page(base, body))
            subcode = body.get("subcode") if isinstance(body, dict) else None
            if r.status_code == 409 and subcode == "PGetReplaced":
                raise PGetReplaced(
                    "another client replaced this application's event channel (409 PGetReplaced)",
                    status=409,
                    code="Conflict",
                    subcode=subcode,
                )
            if r.status_code in (404, 410):
                self.next_href = None
                self.recreated += 1
                yield from self.create_application()
                if self.available:
                    yield from self.make_me_available()
                continue
            raise response_error(r.status_code, body, "event channel")

    def wait_for(self, cursor: int, deadline: float | None) -> Flow[tuple[list[Entry], int]]:
        timeout = None if deadline is None else max(0.0, deadline - self.clock())
        entries, end = yield Await(cursor, timeout)
        return entries, end
