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
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from .errors import (
    AuthError,
    Canceled,
    NetworkError,
    NoAnswer,
    NotOffered,
    PGetReplaced,
    ProtocolError,
    TimedOut,
    UcwaClientError,
    delivery_error,
    response_error,
)
from .models import Conversation, Event, Notification, State, absolute, link, parse_page, with_query

T = TypeVar("T")
Flow = Generator[Any, Any, T]

JSON = "application/json"
PGET_READ_TIMEOUT = 240.0  # above the server's longest P-GET (timeout default 180 s)
REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Await:
    """Ask the driver for channel entries after ``cursor`` (pumping the channel if needed)."""

    cursor: int
    timeout: float | None = None


@dataclass(frozen=True)
class Entry:
    event: Event
    notes: tuple[Notification, ...]


@dataclass(frozen=True)
class Contact:
    name: str | None
    uri: str | None
    href: str
    raw: dict[str, Any]


def sip(uri: str) -> str:
    uri = uri.strip()
    return uri if uri.lower().startswith("sip:") else f"sip:{uri}"


def root_candidates(server: str) -> list[str]:
    """Where discovery starts: a URL as given, else the domain's lyncdiscover names (RootURL.md)."""
    server = server.strip()
    if server.startswith(("http://", "https://")):
        return [server]
    host = server.rstrip("/")
    if ":" in host or host == "localhost":  # host:port given without a scheme
        return [f"https://{host}/", f"http://{host}/"]
    return [f"https://lyncdiscoverinternal.{host}/", f"https://lyncdiscover.{host}/"]


def parse_challenge(header: str) -> str | None:
    """The token service href of ``WWW-Authenticate: MsRtcOAuth href="…",grant_type="…"``."""
    if "msrtcoauth" not in header.lower():
        return None
    rest = header[header.lower().index("msrtcoauth") + len("msrtcoauth") :]
    for part in rest.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "href":
            return value.strip().strip('"') or None
    return None


def body_of(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return None


class Core:
    """A signed-in UCWA application and the flows that act on it (no I/O here)."""

    def __init__(
        self,
        server: str,
        username: str,
        password: str | None = None,
        *,
        token: str | None = None,
        user_href: str | None = None,
        user_agent: str = "OpenUCWA SDK",
        endpoint_id: str | None = None,
        available: bool = True,
        reconnect_window: float | None = 60.0,
    ) -> None:
        self.server = server
        self.username = username.removeprefix("sip:")
        self.password = password
        self.token = token
        self.user_href = user_href
        self.user_agent = user_agent
        self.endpoint_id = endpoint_id or str(uuid.uuid4())
        self.available = available
        self.reconnect_window = reconnect_window
        self.applications_href: str | None = None
        self.app: dict[str, Any] = {}
        self.app_url = ""
        self.next_href: str | None = None
        self.state = State()
        self.log: deque[Entry] = deque(maxlen=5000)
        self.log_end = 0  # index after the last entry ever recorded
        self.recreated = 0  # how many times the application was created again (404/410)

    # -- requests ---------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        auth: bool = True,
        timeout: float = REQUEST_TIMEOUT,
        **kw: Any,
    ) -> httpx.Request:
        headers = {"Accept": JSON, **kw.pop("headers", {})}
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        t = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        return httpx.Request(method, url, headers=headers, extensions={"timeout": t.as_dict()}, **kw)

    def call(self, method: str, url: str, **kw: Any) -> Flow[httpx.Response]:
        """One authorised request; a 401 gets a fresh token (when a password is known) and one retry."""
        r: httpx.Response = yield self.request(method, url, **kw)
        if r.status_code == 401 and self.password:
            yield from self.authenticate()
            r = yield self.request(method, url, **kw)
        if r.status_code == 401:
            raise AuthError("the server refused the token (expired or revoked); sign in again", status=401)
        return r

    def expect(self, r: httpx.Response, what: str, *ok: int) -> Any:
        if r.status_code not in ok:
            raise response_error(r.status_code, body_of(r), what)
        return body_of(r)

    # -- discovery and sign-in (SPEC §5) ----------------------------------------------------------

    def discover(self) -> Flow[str]:
        errors: list[str] = []
        for root in root_candidates(self.server):
            try:
                r: httpx.Response = yield self.request("GET", root, auth=False, timeout=10.0)
            except NetworkError as exc:
                errors.append(f"{root}: {exc}")
                continue
            user = link(body_of(r) if r.status_code == 200 else None, "user")
            if user:
                self.user_href = absolute(str(r.request.url), user)
                return self.user_href
            errors.append(f"{root}: HTTP {r.status_code}, no user link")
        raise NetworkError("no UCWA server found: " + "; ".join(errors))

    def authenticate(self) -> Flow[str]:
        """401 challenge → token service → ``cwt=…`` token (grant_type=password)."""
        if not self.password:
            raise AuthError("a password is needed to sign in")
        if not self.user_href:
            yield from self.discover()
        assert self.user_href
        r: httpx.Response = yield self.request("GET", self.user_href, auth=False)
        token_url = parse_challenge(r.headers.get("www-authenticate", ""))
        if r.status_code != 401 or not token_url:
            raise ProtocolError(
                f"expected a 401 MsRtcOAuth challenge from {self.user_href}, got {r.status_code}"
            )
        form = {"grant_type": "password", "username": self.username, "password": self.password}
        r = yield self.request("POST", absolute(self.user_href, token_url), auth=False, data=form)
        body = body_of(r)
        if r.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
            self.token = str(body["access_token"])
            return self.token
        error = body.get("error") if isinstance(body, dict) else None
        if error == "invalid_grant":
            raise AuthError(f"wrong user name or password for {self.username}", status=r.status_code)
        raise AuthError(
            f"the token service refused the sign-in ({error or r.status_code})", status=r.status_code
        )

    def sign_in(self) -> Flow[str]:
        """Token (stored or new) → ``user`` resource → the ``applications`` href."""
        if not self.user_href:
            yield from self.discover()
        if not self.token:
            yield from self.authenticate()
        assert self.user_href
        r = yield from self.call("GET", self.user_href)
        body = self.expect(r, "user resource", 200)
        apps = link(body, "applications")
        if not apps:
            raise ProtocolError("the user resource has no applications link")
        self.applications_href = absolute(str(r.request.url), apps)
        return self.applications_href

    def create_application(self) -> Flow[dict[str, Any]]:
        if not self.applications_href:
            yield from self.sign_in()
        assert self.applications_href
        body = {"UserAgent": self.user_agent, "EndpointId": self.endpoint_id, "Culture": "en-US"}
        r = yield from self.call("POST", self.applications_href, json=body)
        self._set_app(r, self.expect(r, "create application", 200, 201))
        self.state.reset()
        return self.app

    def _set_app(self, r: httpx.Response, app: dict[str, Any]) -> None:
        self.app = app
        self.app_url = absolute(str(r.request.url), link(app, "self") or str(r.request.url))
        events = link(app, "events")
        if not events:
            raise ProtocolError("the application has no events link")
        if self.next_href is None or r.request.method == "POST":
            self.next_href = absolute(self.app_url, events)

    def refresh_application(self) -> Flow[dict[str, Any]]:
        r = yield from self.call("GET", self.app_url)
        self._set_app(r, self.expect(r, "application", 200))
        return self.app

    def make_me_available(self) -> Flow[None]:
        href = self.href(self.embedded("me"), "makeMeAvailable")
        if href:
            r = yield from self.call("POST", href, json={"SupportedModalities": ["Messaging"]})
            if r.status_code != 409:  # 409 AlreadyExists: available already
                self.expect(r, "makeMeAvailable", 200, 204)
            yield from self.refresh_application()
        self.available = True

    def open(self) -> Flow[dict[str, Any]]:
        """Sign in, create the application, and (by default) become available for IM."""
        yield from self.sign_in()
        yield from self.create_application()
        if self.available:
            yield from self.make_me_available()
        return self.app

    def close(self) -> Flow[None]:
        if self.app_url:
            try:
                yield from self.call("DELETE", self.app_url)
            except UcwaClientError:
                pass
        self.app, self.app_url, self.next_href = {}, "", None

    # -- links of the application -----------------------------------------------------------------

    def embedded(self, rel: str) -> dict[str, Any]:
        return (self.app.get("_embedded") or {}).get(rel) or {}

    def href(self, resource: dict[str, Any], rel: str) -> str | None:
        h = link(resource, rel)
        return absolute(self.app_url, h) if h else None

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
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        entries, end = yield Await(cursor, timeout)
        return entries, end

    # -- IM (SPEC §13–§16, flows/send-an-im.md) ---------------------------------------------------

    def start_conversation(
        self, to: str, subject: str | None = None, timeout: float = 60.0
    ) -> Flow[Conversation]:
        """startMessaging, then wait for the invitation to complete: Connected, or an error."""
        to = sip(to)
        start = self.href(self.embedded("communication"), "startMessaging")
        if not start:
            raise NotOffered("this server does not offer startMessaging")
        op = str(uuid.uuid4())
        self.state.outgoing_targets[op] = to
        cursor = self.log_end
        body = {"to": to, "operationId": op, "importance": "Normal", "sessionContext": str(uuid.uuid4())}
        if subject:
            body["subject"] = subject
        r = yield from self.call("POST", start, json=body)
        if r.status_code == 400:
            raise delivery_error({"subcode": "DestinationNotFound"}, to)
        self.expect(r, "startMessaging", 201)
        location = absolute(str(r.request.url), r.headers.get("location", ""))
        deadline = time.monotonic() + timeout
        while True:
            entries, cursor = yield from self.wait_for(cursor, deadline)
            for e in entries:
                ev = e.event
                if ev.rel != "messagingInvitation" or ev.type != "completed":
                    continue
                if ev.href != location and ev.resource.get("operationId") != op:
                    continue
                if ev.status == "Success":
                    conv = self.state.conversation(ev.href_of("conversation") or "")
                    conv.remote_uri = to
                    return conv
                raise delivery_error(ev.reason, to)
            if time.monotonic() >= deadline:
                raise NoAnswer(f"{to}: no answer within {timeout:.0f} s")

    def post_message(
        self, conv: Conversation, text: str, *, wait: bool = True, timeout: float = 60.0
    ) -> Flow[str]:
        """sendMessage on a connected conversation; with ``wait``, until it is delivered."""
        send = conv.messaging.get("sendMessage")
        if not send:
            raise Canceled("the conversation is not connected")
        op = str(uuid.uuid4())
        cursor = self.log_end
        r = yield from self.call(
            "POST",
            with_query(send, operationId=op),
            content=text.encode(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        if r.status_code in (404, 409, 410):
            self.state.conversations.pop(conv.href, None)
            raise Canceled("the conversation ended", status=r.status_code)
        self.expect(r, "sendMessage", 201)
        location = absolute(str(r.request.url), r.headers.get("location", ""))
        conv.history.append(("out", "me", text))
        if not wait:
            return location
        deadline = time.monotonic() + timeout
        while True:
            entries, cursor = yield from self.wait_for(cursor, deadline)
            for e in entries:
                ev = e.event
                if ev.rel == "message" and ev.type == "completed":
                    if ev.href == location or ev.resource.get("operationId") == op:
                        if ev.status == "Success":
                            return location
                        raise delivery_error(ev.reason, conv.remote_uri or "")
                if ev.rel == "conversation" and ev.type == "deleted" and ev.href == conv.href:
                    raise Canceled(f"{conv.remote_uri}: the conversation ended before delivery")
            if time.monotonic() >= deadline:
                raise NoAnswer(f"{conv.remote_uri}: the message was not confirmed within {timeout:.0f} s")

    def send_message(
        self, to: str, text: str, *, subject: str | None = None, wait: bool = True, timeout: float = 60.0
    ) -> Flow[str]:
        """Send ``text`` to ``to`` (reusing a connected conversation); the message href."""
        to = sip(to)
        conv = self.state.find(to)
        if conv is not None:
            try:
                return (yield from self.post_message(conv, text, wait=wait, timeout=timeout))
            except Canceled:
                conv = None  # the old conversation ended meanwhile: start a new one
        conv = yield from self.start_conversation(to, subject, timeout)
        return (yield from self.post_message(conv, text, wait=wait, timeout=timeout))

    def reply(self, conversation: str, text: str, *, wait: bool = False) -> Flow[str]:
        conv = self.state.conversations.get(conversation)
        if conv is None or not conv.connected:
            raise Canceled("the conversation is not connected")
        return (yield from self.post_message(conv, text, wait=wait))

    def answer(self, href: str | None, accept: bool) -> Flow[bool]:
        """Accept or decline an incoming invitation; False if it is no longer pending."""
        if not href:
            return False
        kw: dict[str, Any] = {} if accept else {"json": {"reason": "Local"}}
        r = yield from self.call("POST", href, **kw)
        return r.status_code in (200, 204)

    def set_typing(self, conversation: str) -> Flow[None]:
        conv = self.state.conversations.get(conversation)
        href = conv.messaging.get("setIsTyping") if conv else None
        if href:
            yield from self.call("POST", href)

    def stop(self, conversation: str) -> Flow[None]:
        conv = self.state.conversations.get(conversation)
        href = conv.messaging.get("stopMessaging") if conv else None
        if href:
            yield from self.call("POST", href)

    def history(self, conversation: str) -> Flow[list[dict[str, Any]]]:
        """The server's message history of a conversation (extension rel ``history``), newest first."""
        conv = self.state.conversations.get(conversation)
        href = conv.messaging.get("history") if conv else None
        if not href:
            raise NotOffered("this server does not offer conversation history")
        r = yield from self.call("GET", href)
        body = self.expect(r, "history", 200)
        return list(((body or {}).get("_embedded") or {}).get("message") or [])

    # -- presence (SPEC §11) ----------------------------------------------------------------------

    def me_link(self, rel: str, what: str) -> Flow[str]:
        href = self.href(self.embedded("me"), rel)
        if not href:
            me = self.href(self.embedded("me"), "self")
            if me:
                r = yield from self.call("GET", me)
                if r.status_code == 200:
                    h = link(body_of(r), rel)
                    href = absolute(str(r.request.url), h) if h else None
        if not href:
            raise NotOffered(f"this server does not offer {what} (no {rel} link on me)")
        return href

    def get_presence(self) -> Flow[dict[str, Any]]:
        href = yield from self.me_link("presence", "presence")
        r = yield from self.call("GET", href)
        return dict(self.expect(r, "presence", 200) or {})

    def set_presence(self, availability: str) -> Flow[None]:
        href = yield from self.me_link("presence", "presence")
        r = yield from self.call("POST", href, json={"availability": availability})
        self.expect(r, "set presence", 200, 204)

    # -- people (SPEC §12) ------------------------------------------------------------------------

    def people_link(self, rel: str, what: str) -> Flow[str]:
        people = self.embedded("people")
        href = self.href(people, rel)
        if not href and (me := self.href(people, "self")):
            r = yield from self.call("GET", me)
            if r.status_code == 200 and (h := link(body_of(r), rel)):
                href = absolute(str(r.request.url), h)
        if not href:
            raise NotOffered(f"this server does not offer {what} (no people {rel} link)")
        return href

    def _contacts_of(self, r: httpx.Response, what: str) -> Flow[list[Contact]]:
        """Contacts embedded in a list (or, when the list holds links only, each one fetched)."""
        body = self.expect(r, what, 200) or {}
        base = str(r.request.url)
        found = (body.get("_embedded") or {}).get("contact")
        if found is None:
            refs = (body.get("_links") or {}).get("contact") or []
            found = []
            for ref in refs if isinstance(refs, list) else [refs]:
                c = yield from self.call("GET", absolute(base, ref["href"]))
                if c.status_code == 200:
                    found.append(body_of(c))
        if isinstance(found, dict):
            found = [found]
        return [Contact(c.get("name"), c.get("uri"), absolute(base, link(c, "self") or ""), c) for c in found]

    def contacts(self) -> Flow[list[Contact]]:
        href = yield from self.people_link("myContacts", "contact lists")
        r = yield from self.call("GET", href)
        return (yield from self._contacts_of(r, "contacts"))

    def search(self, query: str, limit: int = 20) -> Flow[list[Contact]]:
        href = yield from self.people_link("search", "directory search")
        r = yield from self.call("GET", with_query(href, query=query, limit=str(limit)))
        return (yield from self._contacts_of(r, "search"))

    def subscribe_presence(self, uris: list[str], duration: int = 30) -> Flow[str]:
        href = yield from self.people_link("presenceSubscriptions", "presence subscriptions")
        r = yield from self.call("POST", href, json={"duration": duration, "uris": [sip(u) for u in uris]})
        self.expect(r, "presence subscription", 200, 201)
        return (
            absolute(str(r.request.url), r.headers.get("location", "")) if r.headers.get("location") else ""
        )

    def contact_presence(self, contact: Contact) -> Flow[dict[str, Any]]:
        href = link(contact.raw, "contactPresence")
        if not href:
            raise NotOffered("this server does not offer contact presence")
        r = yield from self.call("GET", absolute(contact.href, href))
        return dict(self.expect(r, "contact presence", 200) or {})
