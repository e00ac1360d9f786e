"""Flow details against small scripted servers (MockTransport): no I/O beyond the transport."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from openucwa.client import AuthError, NoAnswer, NotOffered, ProtocolError, Session
from openucwa.client.flows import Await, Core, parse_challenge, root_candidates
from openucwa.client.models import Conversation, Event, State

BASE = "https://ucwa.example.net"
APP = "/apps/x1"


class Scripted:
    """An application whose people resource has no links, a token that expires once, and a 404 later."""

    def __init__(self, people_links: dict[str, Any] | None = None) -> None:
        self.people_links = people_links or {}
        self.tokens = 0
        self.apps = 0
        self.expire_next = False
        self.lose_app_at: int | None = None
        self.log: list[str] = []

    def app(self) -> dict[str, Any]:
        a = f"{APP}-{self.apps}"
        return {
            "rel": "application",
            "_links": {"self": {"href": a}, "events": {"href": f"{a}/ev?ack=1"}},
            "_embedded": {
                "me": {"rel": "me", "_links": {"self": {"href": f"{a}/me"}}},
                "people": {"rel": "people", "_links": {"self": {"href": f"{a}/people"}, **self.people_links}},
                "communication": {"rel": "communication", "_links": {}},
            },
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        p = request.url.path
        self.log.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        if p == "/":
            return httpx.Response(200, json={"_links": {"user": {"href": "/discover/user"}}})
        if p == "/token":
            self.tokens += 1
            return httpx.Response(200, json={"access_token": f"cwt=t{self.tokens}", "token_type": "Bearer"})
        if request.headers.get("authorization") != f"Bearer cwt=t{self.tokens}" or self.expire_next:
            self.expire_next = False
            return httpx.Response(
                401, headers={"WWW-Authenticate": 'MsRtcOAuth href="/token",grant_type="password"'}
            )
        if p == "/discover/user":
            return httpx.Response(200, json={"_links": {"applications": {"href": "/apps"}}})
        if p == "/apps":
            self.apps += 1
            return httpx.Response(201, json=self.app())
        if p.endswith("/people"):
            return httpx.Response(
                200, json={"rel": "people", "_links": {"self": {"href": p}, **self.people_links}}
            )
        if p.endswith("/ev"):
            ack = int(request.url.params["ack"])
            if self.lose_app_at == ack and f"{APP}-1/" in p + "/":
                return httpx.Response(404, json={"code": "NotFound", "subcode": "ApplicationNotFound"})
            a = p.rsplit("/", 1)[0]
            if ack == 50:
                return httpx.Response(200, json={"_links": {"resync": {"href": f"{a}/ev?ack=3"}}})
            return httpx.Response(200, json={"_links": {"next": {"href": f"{a}/ev?ack={ack + 1}"}}})
        if p.endswith("/contacts"):
            return httpx.Response(200, json={"_links": {"contact": [{"href": f"{p}/c1"}]}})
        if p.endswith("/c1"):
            return httpx.Response(
                200, json={"name": "Lene", "uri": "sip:lenea@contoso.com", "_links": {"self": {"href": p}}}
            )
        return httpx.Response(500, json={"code": "ServiceFailure"})


def session(server: Scripted, **kw: Any) -> Session:
    return Session(
        BASE, "toshm@contoso.com", "pw", available=False, transport=httpx.MockTransport(server), **kw
    )


def test_people_links_absent_means_not_offered() -> None:
    with session(Scripted()) as s:
        with pytest.raises(NotOffered, match="does not offer contact lists"):
            s.contacts()
        with pytest.raises(NotOffered, match="does not offer directory search"):
            s.search("Lene")
        with pytest.raises(NotOffered, match="presence"):
            s.get_presence()


def test_contact_lists_of_links_are_fetched_one_by_one() -> None:
    server = Scripted({"myContacts": {"href": "/somewhere/else/contacts"}})
    with session(server) as s:
        (c,) = s.contacts()
    assert (c.name, c.uri, c.href) == ("Lene", "sip:lenea@contoso.com", BASE + "/somewhere/else/contacts/c1")


def test_expired_token_is_renewed_with_the_password_and_missing_app_recreated() -> None:
    server = Scripted()
    server.lose_app_at = 2
    with session(server) as s:
        s.pump()  # ack=1
        server.expire_next = True
        s.pump()  # 401 → new token → retry → 404 ApplicationNotFound → new application → its ack=1
        assert s.token == "cwt=t2" and server.apps == 2 and s.core.recreated == 1
        assert s.core.next_href == BASE + f"{APP}-2/ev?ack=2"


def test_without_a_password_an_expired_token_is_an_auth_error() -> None:
    server = Scripted()
    server.tokens = 1
    s = Session(
        BASE, "toshm@contoso.com", token="cwt=t1", transport=httpx.MockTransport(server), available=False
    )
    with s:
        server.expire_next = True
        with pytest.raises(AuthError, match="sign in again"):
            s.pump()


def test_resync_follows_the_resync_link() -> None:
    server = Scripted()
    with session(server) as s:
        s.core.next_href = BASE + f"{APP}-1/ev?ack=50"
        assert s.pump() == []
        assert s.core.next_href == BASE + f"{APP}-1/ev?ack=3"


def test_server_errors_are_protocol_errors() -> None:
    with session(Scripted()) as s:
        r = s.run(s.core.call("GET", BASE + "/nowhere"))
        with pytest.raises(ProtocolError, match="HTTP 500 ServiceFailure"):
            s.core.expect(r, "thing", 200)


def test_discovery_candidates_and_challenge_parsing() -> None:
    assert root_candidates("contoso.com") == [
        "https://lyncdiscoverinternal.contoso.com/",
        "https://lyncdiscover.contoso.com/",
    ]
    assert root_candidates("http://127.0.0.1:8080/") == ["http://127.0.0.1:8080/"]
    assert root_candidates("127.0.0.1:8080") == ["https://127.0.0.1:8080/", "http://127.0.0.1:8080/"]
    both = 'Bearer trusted_issuers="x", client_id="y", MsRtcOAuth href="https://h/WebTicket/oauthtoken",grant_type="a,password"'
    assert parse_challenge(both) == "https://h/WebTicket/oauthtoken"
    assert parse_challenge('Bearer realm="x"') is None


def test_state_tracks_typing_and_ends() -> None:
    st = State()
    conv = "https://h/c/1"
    typing = Event(
        "conversation", conv, "added", "participant", conv + "/p/l", title="Lene", in_rel="typingParticipants"
    )
    (note,) = st.apply(typing)
    assert note.typing and note.who == "Lene"
    (ended,) = st.apply(Event("communication", "https://h/comm", "deleted", "conversation", conv))
    assert ended.conversation == conv and conv not in st.conversations


def test_deadlines_follow_the_injected_clock() -> None:
    now = [1000.0]
    s = Session(BASE, "toshm@contoso.com", clock=lambda: now[0])
    s.close()
    assert s.core.clock() == 1000.0  # the session forwards it to its Core
    core = Core(BASE, "toshm@contoso.com", token="cwt=t1", clock=lambda: now[0])
    conv = Conversation(BASE + "/c/1", "sip:lenea@contoso.com", messaging={"sendMessage": BASE + "/c/1/send"})
    flow = core.post_message(conv, "hi", timeout=60.0)
    request = next(flow)
    step = flow.send(httpx.Response(201, headers={"Location": "/c/1/m/1"}, request=request))
    assert step == Await(0, 60.0)
    now[0] += 30.0
    assert flow.send(([], 0)) == Await(0, 30.0)
    now[0] += 31.0  # past the deadline: no answer, without anyone having waited
    with pytest.raises(NoAnswer, match="not confirmed within 60 s"):
        flow.send(([], 0))
