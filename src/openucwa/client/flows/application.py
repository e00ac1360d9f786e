"""Requests, discovery and sign-in (SPEC §5), and the lifecycle of the UCWA application."""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx

from ..errors import AuthError, NetworkError, ProtocolError, UcwaClientError, response_error
from ..models import State, absolute, link
from .instructions import Entry, Flow

JSON = "application/json"
REQUEST_TIMEOUT = 30.0


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


class ApplicationFlows:
    """What a session knows (token, application, the channel's next href, conversations) and the
    flows that sign in and keep the application."""

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
        clock: Callable[[], float] = time.monotonic,
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
        self.clock = clock  # read for deadlines, so tests can move time instead of waiting

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
