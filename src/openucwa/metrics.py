"""One node's Prometheus series, served at ``GET /metrics`` (README "Operations").

Each server app owns a ``Metrics`` with a registry of its own rather than prometheus_client's
global one: tests run many apps in one process and each must count from zero, and nothing here is a
process global that a second app could double-register.

API for code that counts something (use cases, middleware, limits)::

    svc.metrics.rate_limited("token")      # a request refused by the limit named "token"
    svc.metrics.sign_in_failed()           # a password grant refused
    svc.metrics.messages_sent.inc()        # after the transaction that holds it committed

Counters are incremented after the commit that makes them true, never inside a transaction that
might still roll back. Gauges of database state (applications, conversations) are read when
scraped, so every node reports the same numbers for them; ``openucwa_pgets_held`` is per node.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import generate_latest

# ``*_created`` series double the page and tell nothing a counter reset does not.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Requests are mostly a few milliseconds; held P-GETs last up to half an hour (their route says so).
_REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 300, 1800)
_DB_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5)
_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"})


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "openucwa_http_requests",
            "HTTP requests answered, by route template (unmatched: no route), method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "openucwa_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route template.",
            ["route"],
            buckets=_REQUEST_BUCKETS,
            registry=r,
        )
        self.pgets_held = Gauge("openucwa_pgets_held", "P-GETs this node holds open now.", registry=r)
        self.applications = Gauge(
            "openucwa_applications_active", "Active applications in the database.", registry=r
        )
        self.conversations = Gauge(
            "openucwa_conversations_active",
            "Conversations in progress in the database (one per communication, whatever its size).",
            registry=r,
        )
        self.messages_sent = Counter(
            "openucwa_messages_sent", "Messages accepted by sendMessage (201).", registry=r
        )
        self.messages_delivered = Counter(
            "openucwa_messages_delivered",
            "Messages handed to a recipient in an event batch (one per recipient).",
            registry=r,
        )
        self.events_delivered = Counter(
            "openucwa_events_delivered", "Events put into event-channel batches (P-GET answers).", registry=r
        )
        self.sign_in_failures = Counter(
            "openucwa_sign_in_failures",
            "Password grants refused (unknown user or wrong password).",
            registry=r,
        )
        self.rate_limit_hits = Counter(
            "openucwa_rate_limit_hits",
            "Requests refused by a limit (429), by limit name.",
            ["limit"],
            registry=r,
        )
        self.db_seconds = Histogram(
            "openucwa_db_transaction_seconds",
            "Units of work from BEGIN (lock wait included) to their COMMIT being done.",
            buckets=_DB_BUCKETS,
            registry=r,
        )
        self.scrape_errors = Counter(
            "openucwa_metrics_scrape_errors",
            "Scrapes whose database gauges could not be read (they kept their previous value).",
            registry=r,
        )
        ProcessCollector(registry=r)
        # The request path runs these for every request: bound once, looked up in a plain dict.
        self._per_request: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def rate_limited(self, limit: str) -> None:
        """A request was refused by the limit named ``limit`` (e.g. "token", "messages")."""
        self.rate_limit_hits.labels(limit).inc()

    def sign_in_failed(self) -> None:
        self.sign_in_failures.inc()

    def request_done(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        pair = self._per_request.get(key)
        if pair is None:
            label = method if method in _METHODS else "other"  # a client chooses the method
            pair = (self.requests.labels(route, label, str(status)), self.request_seconds.labels(route))
            if len(self._per_request) < 4096:
                self._per_request[key] = pair
        pair[0].inc()
        pair[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


__all__ = ["CONTENT_TYPE", "Metrics"]
