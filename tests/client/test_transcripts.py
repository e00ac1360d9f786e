"""The SDK replays the reference transcripts: it follows whatever hrefs a server gives.

A ``MockTransport`` serves the responses printed in CreateAnApplication.md, SendAnIM.md and
ReceiveAnIM.md: another host (lyncweb.contoso.com, reached through lyncdiscover.contoso.com),
other application ids (102, 104), other path shapes (``/root/user``, ``…/messagingInvitations/60c``).
Adaptations where the documents elide content: the application of CreateAnApplication.md (105) is
served with the id of the transcript that follows it; event pages the documents skip (or print
unparseably) are served empty; the server echoes the client's ``operationId`` into its events, as
a server does; 204s the documents do not show are 204. Every request the client makes must be the
root it was given or an href it was served (a link, a ``Location``, the challenge's token service).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from openucwa.client import AsyncSession, IncomingInvitation, IncomingMessage, Session

from .transcripts import Exchange, exchanges

CREATE = exchanges("CreateAnApplication.md")
SEND = exchanges("SendAnIM.md")
RECEIVE = exchanges("ReceiveAnIM.md")
ORIGIN = "https://lyncweb.contoso.com"


def hrefs_in(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        return [v for k, v in obj.items() if k == "href" and isinstance(v, str)] + [
            h for v in obj.values() for h in hrefs_in(v)
        ]
    if isinstance(obj, list):
        return [h for v in obj for h in hrefs_in(v)]
    return []


class TranscriptServer:
    """Serves transcript responses by method and path; records what it gave and what it was asked."""

    def __init__(self, app_id: str, events: dict[int, dict[str, Any]]) -> None:
        self.app_id = app_id
        self.events = events
        self.served: set[str] = set()
        self.requests: list[httpx.Request] = []
        self.operation_ids: dict[str, str] = {}

    # -- helpers ---------------------------------------------------------------------------------------

    def json(self, status: int, body: Any, request: httpx.Request, **headers: str) -> httpx.Response:
        text = json.dumps(body)
        for original, sent in self.operation_ids.items():
            text = text.replace(original, sent)
        body = json.loads(text)
        self.served.update(str(request.url.join(h)).split("?")[0] for h in hrefs_in(body))
        return httpx.Response(status, json=body, headers=headers)

    def empty(self, status: int, request: httpx.Request, **headers: str) -> httpx.Response:
        if "location" in headers:
            self.served.add(str(request.url.join(headers["location"])).split("?")[0])
        return httpx.Response(status, headers=headers)

    @staticmethod
    def header(ex: Exchange, name: str) -> list[str]:
        return [v for k, v in ex.headers if k.lower() == name.lower()]

    def application(self) -> dict[str, Any]:
        text = json.dumps(CREATE[4].body).replace("/applications/105", f"/applications/{self.app_id}")
        return json.loads(text)

    # -- the handler -----------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = request.url
        path = url.path.lower()
        authed = request.headers.get("authorization") == f"Bearer {CREATE[2].body['access_token']}"
        if url.host == "lyncdiscoverinternal.contoso.com":
            raise httpx.ConnectError("no such host", request=request)
        if url.host == "lyncdiscover.contoso.com":
            return self.json(200, CREATE[0].body, request)
        if path.endswith("/root/oauth/user"):
            if not authed:
                self.served.add(str(url.join("/WebTicket/oauthtoken")))  # the challenge's href
                return httpx.Response(
                    401, headers=[("WWW-Authenticate", v) for v in self.header(CREATE[1], "WWW-Authenticate")]
                )
            return self.json(200, CREATE[3].body, request)
        if path == "/webticket/oauthtoken":
            form = dict(x.split("=", 1) for x in request.content.decode().split("&"))
            assert form["grant_type"] == "password" and form["username"] == "toshm%40contoso.com"
            return self.json(200, CREATE[2].body, request)
        assert authed, f"{request.method} {url} without the token"
        app = f"/ucwa/oauth/v1/applications/{self.app_id}"
        if request.method == "POST" and path == "/ucwa/oauth/v1/applications":
            return self.json(201, self.application(), request, location=f"{app}")
        if path == app.lower() and request.method == "GET":
            body = self.application()
            body["_embedded"]["me"]["_links"].pop("makeMeAvailable")
            return self.json(200, body, request)
        if path == app.lower() and request.method == "DELETE":
            return self.empty(204, request)
        if path.endswith("/events"):
            ack = int(url.params["ack"])
            page = self.events.get(ack) or {
                "_links": {
                    "self": {"href": f"{app}/events?ack={ack}"},
                    "next": {"href": f"{app}/events?ack={ack + 1}"},
                }
            }
            return self.json(200, page, request)
        return self.operation(request, app)

    def operation(self, request: httpx.Request, app: str) -> httpx.Response:
        path = request.url.path
        if path.endswith("/me/makeMeAvailable"):
            return self.empty(204, request)
        if path.endswith("/communication/messagingInvitations"):  # startMessaging
            body = json.loads(request.content)
            assert body["to"] == "sip:lenea@contoso.com"
            self.operation_ids["5028e824-2268-4b14-9e59-1abad65ff393"] = body["operationId"]
            return self.empty(201, request, location=self.header(SEND[0], "Location")[0])
        if path.endswith("/messaging/messages") and request.method == "POST":
            assert request.headers["content-type"].startswith("text/plain")
            assert request.content.decode() == "What's up?"
            return self.empty(201, request, location=self.header(SEND[4], "Location")[0])
        if path.endswith("/accept") or path.endswith("/terminate"):
            return self.empty(204, request)
        raise AssertionError(f"unexpected {request.method} {request.url}")

    def check_followed_links(self, root: str) -> None:
        for r in self.requests:
            url = str(r.url).split("?")[0]
            if r.url.host.startswith("lyncdiscover"):
                assert str(r.url) in (root, root.replace("lyncdiscover.", "lyncdiscoverinternal."))
                continue
            assert url in self.served, f"{r.method} {r.url} was never given by the server"


def pages(transcript: list[Exchange]) -> dict[int, dict[str, Any]]:
    out = {}
    for ex in transcript:
        self_href = ((ex.body or {}).get("_links") or {}).get("self", {}).get("href", "")
        if m := re.search(r"/events\?ack=(\d+)$", self_href):
            out[int(m.group(1))] = ex.body
    return out


async def drive(mode: str, session: Session | AsyncSession, name: str, *args: Any) -> Any:
    fn = getattr(session, name)
    return fn(*args) if mode == "sync" else await fn(*args)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_send_an_im_as_the_transcripts_show(mode: str) -> None:
    server = TranscriptServer("102", pages(SEND))
    cls = Session if mode == "sync" else AsyncSession
    s = cls("contoso.com", "toshm@contoso.com", "pw", available=False, transport=httpx.MockTransport(server))
    await drive(mode, s, "open")
    assert s.user_href == CREATE[0].body["_links"]["user"]["href"]
    href = await drive(mode, s, "send_message", "sip:lenea@contoso.com", "What's up?")
    assert (
        href
        == ORIGIN + "/ucwa/oauth/v1/applications/102/communication/conversations/21a1/messaging/messages/2"
    )
    (conv,) = s.conversations.values()
    assert conv.href == ORIGIN + "/ucwa/oauth/v1/applications/102/communication/conversations/21a1"
    assert conv.messaging["stopMessaging"].endswith("/21a1/messaging/terminate")
    await drive(mode, s, "stop", conv.href)
    await drive(mode, s, "close")
    server.check_followed_links("https://lyncdiscover.contoso.com/")
    posted = [str(r.url) for r in server.requests if r.method == "POST"]
    assert posted[-2].startswith(
        ORIGIN
        + "/ucwa/oauth/v1/applications/102/communication/conversations/21a1/messaging/messages?operationId="
    )
    assert (
        posted[-1]
        == ORIGIN + "/ucwa/oauth/v1/applications/102/communication/conversations/21a1/messaging/terminate"
    )


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_receive_an_im_as_the_transcripts_show(mode: str) -> None:
    server = TranscriptServer("104", pages(RECEIVE))
    cls = Session if mode == "sync" else AsyncSession
    s = cls(
        "https://lyncdiscover.contoso.com/", "toshm@contoso.com", "pw", transport=httpx.MockTransport(server)
    )
    await drive(mode, s, "open")
    got: list[Any] = []
    if mode == "sync":
        for n in s.listen(5):
            got.append(n)
            if isinstance(n, IncomingMessage):
                break
    else:
        async for n in s.listen(5):
            got.append(n)
            if isinstance(n, IncomingMessage):
                break
    inv = next(n for n in got if isinstance(n, IncomingInvitation))
    assert (inv.from_uri, inv.from_name, inv.first_message) == (
        "sip:lenea@contoso.com",
        "Lene Aaling",
        "Hi Tosh\r\n",
    )
    assert (
        inv.accept_href
        == ORIGIN + "/ucwa/oauth/v1/applications/104/communication/messagingInvitations/6408/accept"
    )
    msg = got[-1]
    assert isinstance(msg, IncomingMessage)
    assert (msg.text, msg.from_name, msg.from_uri) == ("Hi Tosh\r\n", "Lene Aaling", "sip:lenea@contoso.com")
    assert msg.time is not None and msg.time.year == 2013
    await drive(mode, s, "close")
    assert any(str(r.url) == inv.accept_href and r.method == "POST" for r in server.requests)
    server.check_followed_links("https://lyncdiscover.contoso.com/")
