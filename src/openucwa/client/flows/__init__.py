"""Sans-I/O flows: every UCWA conversation of the SDK, written once as generators.

Theory of operation. A flow is a generator that *yields instructions* and *receives results*:

* ``httpx.Request``  → the driver sends it and sends back the ``httpx.Response``
  (or throws ``NetworkError`` into the flow when the server cannot be reached);
* ``Sleep(s)``       → the driver waits ``s`` seconds and sends back ``None``;
* ``Await(cursor)``  → the driver returns the channel entries recorded after ``cursor``,
  running one P-GET step (the ``pget`` flow) itself when there are none yet.

``sync_client.Session`` drives flows with ``httpx.Client``, ``async_client.AsyncSession`` with
``httpx.AsyncClient``; neither contains protocol logic. ``Core`` holds everything a session
knows (token, application, the channel's next href, conversations) and the flows that change it.
Every URL comes from the root, a link, a ``Location`` header or an event, except the root itself.
Time comes from ``Core``'s ``clock`` option (``time.monotonic`` unless a test gives another), so the
flows read no clock of their own.

``Core`` is assembled from one part per concern, each a class on top of the one it needs:
``application`` (requests, discovery, sign-in, the application's lifecycle), ``channel`` (P-GET
and waiting for events), ``messaging`` (IM) and ``people`` (presence, contacts, search);
``instructions`` holds what a flow yields to its driver.
"""

from __future__ import annotations

from .application import (
    JSON,
    REQUEST_TIMEOUT,
    ApplicationFlows,
    body_of,
    parse_challenge,
    root_candidates,
    sip,
)
from .channel import PGET_READ_TIMEOUT
from .instructions import Await, Entry, Flow, Sleep
from .messaging import MessagingFlows
from .people import Contact, PeopleFlows

__all__ = [
    "JSON",
    "PGET_READ_TIMEOUT",
    "REQUEST_TIMEOUT",
    "ApplicationFlows",
    "Await",
    "Contact",
    "Core",
    "Entry",
    "Flow",
    "Sleep",
    "body_of",
    "parse_challenge",
    "root_candidates",
    "sip",
]


class Core(MessagingFlows, PeopleFlows):
    """A signed-in UCWA application and the flows that act on it (no I/O here)."""
