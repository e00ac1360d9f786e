"""The XFrame relay page (SPEC §5.3, §6; CLIENT-COMPAT.md §2), driven by a real browser.

A parent page is served from a second loopback origin (its own ``http.server`` in a thread) and
talks to the XFrame of a real ``openucwa serve`` subprocess in a hidden iframe with
``postMessage``, the way Microsoft's helper library does: JSON strings in, one JSON string out per
request, matched by ``messageId``.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
import pytest
import pytest_asyncio

from tests.conftest import USERS, Server
from tests.web.conftest import chromium_missing

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Request, Route

XFRAME_PATH = "/Autodiscover/XFrame/XFrame.html"
ALIAS_PATH = "/xframe"
USER = "toshm@contoso.com"
PASSWORD = USERS[USER][1]
FORM = "application/x-www-form-urlencoded;charset='utf-8'"  # what the official library sends
SPECIAL_NAMES = {
    "www-authenticate": "WWW-Authenticate",
    "x-ms-diagnostics": "X-Ms-diagnostics",
    "x-ms-ucwaversion": "X-MS-UcwaVersion",
    "etag": "ETag",
}
SILENCE_S = 1.0  # how long "no answer" is waited for

_no_chromium = chromium_missing()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(_no_chromium is not None, reason=_no_chromium or ""),
    pytest.mark.asyncio(loop_scope="session"),
]

MakeServer = Callable[..., Server]
# The relay never touches the store: only the sign-in chain runs on every backend.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

# ---------------------------------------------------------------------------------------------
# The parent page: a second origin that frames the XFrame and talks to it like Transport.js.
# ---------------------------------------------------------------------------------------------

PARENT_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>parent</title></head><body>
<script>
// Every message this window receives, before anything is sent (the library JSON.parses them all).
window.received = [];
window.addEventListener("message", function (e) {
  window.received.push({origin: e.origin, data: e.data, isString: typeof e.data === "string"});
});
var XFRAME = new URLSearchParams(location.search).get("xframe");
var XFRAME_ORIGIN = new URL(XFRAME).origin;
window.frameLoaded = new Promise(function (resolve) {
  var f = document.createElement("iframe");
  f.style.display = "none";
  f.addEventListener("load", function () { resolve(true); });
  f.src = XFRAME;
  document.body.appendChild(f);
  window.xframe = f;
});
// Post one JSON string; resolve with the parsed answer carrying the same messageId, or null.
window.ask = function (message, id, timeoutMs) {
  return new Promise(function (resolve) {
    function on(e) {
      if (e.source !== window.xframe.contentWindow || typeof e.data !== "string") { return; }
      var answer;
      try { answer = JSON.parse(e.data); } catch (x) { return; }
      if (answer.messageId !== id) { return; }
      clearTimeout(timer);
      window.removeEventListener("message", on);
      resolve(answer);
    }
    var timer = setTimeout(function () {
      window.removeEventListener("message", on);
      resolve(null);
    }, timeoutMs);
    window.addEventListener("message", on);
    window.xframe.contentWindow.postMessage(message, XFRAME_ORIGIN);
  });
};
</script>
</body></html>
"""


class _ParentHandler(BaseHTTPRequestHandler):
    body: ClassVar[bytes] = PARENT_HTML.encode()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def parent_origin() -> Iterator[Callable[[], str]]:
    """``parent_origin()`` → the origin of a fresh page server on its own loopback port."""
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start() -> str:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ParentHandler)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        servers.append((httpd, thread))
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd, thread in servers:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context()
    try:
        yield ctx
    finally:
        await ctx.close()


async def open_parent(context: BrowserContext, origin: str, xframe_url: str) -> Page:
    page = await context.new_page()
    await page.goto(f"{origin}/?{httpx.QueryParams(xframe=xframe_url)}")
    assert await page.evaluate("window.frameLoaded") is True
    return page


async def relay(
    page: Page, request: dict[str, Any], *, wrap: bool = False, timeout_s: float = 5.0
) -> dict[str, Any] | None:
    """Send one request through the frame (as ``{request: …}`` if ``wrap``); its answer or None."""
    request.setdefault("messageId", str(uuid.uuid4()))
    message = json.dumps({"request": request} if wrap else request)
    answer = await page.evaluate(
        "([m, id, t]) => window.ask(m, id, t)", [message, request["messageId"], int(timeout_s * 1000)]
    )
    assert answer is None or isinstance(answer, dict)
    return answer


def canonical(name: str) -> str:
    lower = name.lower()
    return SPECIAL_NAMES.get(lower) or "-".join(w[:1].upper() + w[1:] for w in lower.split("-"))


def header_lines(answer: dict[str, Any]) -> list[tuple[str, str]]:
    """The answer's header block as (name, value) pairs, checking its shape on the way."""
    block = answer["headers"]
    assert isinstance(block, str)
    pairs = []
    for line in block.split("\r\n"):
        assert "\n" not in line and "\r" not in line
        name, sep, value = line.partition(": ")
        assert sep, f"not a 'Name: value' line: {line!r}"
        assert name == canonical(name), f"header name not in canonical case: {name!r}"
        pairs.append((name, value))
    return pairs


def header(answer: dict[str, Any], name: str) -> list[str]:
    return [v for n, v in header_lines(answer) if n == name]


def assert_answer_shape(answer: dict[str, Any] | None, status: int) -> dict[str, Any]:
    assert answer is not None, "the frame did not answer"
    assert set(answer) == {"status", "statusText", "responseText", "headers", "messageId"}, answer
    assert answer["status"] == status, answer
    assert isinstance(answer["statusText"], str) and isinstance(answer["responseText"], str)
    return answer


# ---------------------------------------------------------------------------------------------
# Browser tests
# ---------------------------------------------------------------------------------------------


async def test_sign_in_chain_through_the_frame(
    make_server: MakeServer, parent_origin: Callable[[], str], context: BrowserContext
) -> None:
    origin = parent_origin()
    srv = make_server("--allowed-origin", origin)
    base = srv.base
    page = await open_parent(context, origin, base + XFRAME_PATH)
    sent: list[Request] = []
    page.on("request", lambda r: sent.append(r) if r.url.startswith(base) else None)

    # Autodiscovery: the root, with a path-relative URL (resolved against the frame).
    root = assert_answer_shape(
        await relay(page, {"type": "get", "url": "/", "accepts": "application/json"}), 200
    )
    links = json.loads(root["responseText"])["_links"]
    assert links["xframe"]["href"] == base + XFRAME_PATH
    user_href = links["user"]["href"]

    # The user resource without a token: the 401 challenge, relayed with its canonical name.
    mid = str(uuid.uuid4())
    challenge = await relay(
        page,
        {
            "type": "get",
            "url": user_href,
            "headers": {"Accept": "application/json"},
            "data": "",
            "messageId": mid,
        },
    )
    challenge = assert_answer_shape(challenge, 401)
    assert challenge["messageId"] == mid
    assert header(challenge, "WWW-Authenticate") == [
        f'MsRtcOAuth href="{base}/WebTicket/oauthtoken",grant_type="password"'
    ]
    assert "www-authenticate" not in challenge["headers"]
    assert header(challenge, "X-MS-UcwaVersion"), challenge["headers"]

    # The token, form-encoded with the library's Content-Type, in the library's {request} wrapper.
    token = await relay(
        page,
        {
            "type": "post",
            "url": f"{base}/WebTicket/oauthtoken",
            "headers": {"Accept": "application/json", "Content-Type": FORM},
            "data": f"grant_type=password&username={USER}&password={PASSWORD}",
        },
        wrap=True,
    )
    token = assert_answer_shape(token, 200)
    grant = json.loads(token["responseText"])
    assert grant["token_type"] == "Bearer" and grant["access_token"].startswith("cwt=")
    authorization = f"{grant['token_type']} {grant['access_token']}"

    # The user resource with the token.
    user = await relay(
        page,
        {
            "type": "GET",
            "url": user_href,
            "headers": {"Accept": "application/json", "Authorization": authorization},
        },
    )
    user = assert_answer_shape(user, 200)
    applications_href = json.loads(user["responseText"])["_links"]["applications"]["href"]
    if not applications_href.startswith("http"):
        applications_href = base + applications_href

    # Create the application: jQuery-style accepts/contentType keys, a numeric messageId, and an
    # attempt to spoof X-Ms-Origin, which the frame must not let through.
    body = {"userAgent": "xframe-test", "endpointId": str(uuid.uuid4()), "culture": "en-US"}
    created = await relay(
        page,
        {
            "type": "Post",
            "url": applications_href,
            "accepts": "application/json",
            "contentType": "application/json",
            "headers": {"Authorization": authorization, "X-Ms-Origin": "http://evil.example"},
            "data": json.dumps(body),
            "messageId": 42,
        },
    )
    created = assert_answer_shape(created, 201)
    assert created["messageId"] == 42
    assert created["statusText"] == "Created"
    content_type = header(created, "Content-Type")
    assert len(content_type) == 1 and "application/json" in content_type[0], created["headers"]
    assert json.loads(created["responseText"])["userAgent"] == "xframe-test"

    # What the frame actually sent: every request carries the parent's origin and the XHR marker.
    assert len(sent) == 5, [r.url for r in sent]
    for r in sent:
        assert await r.header_value("x-ms-origin") == origin, r.url
        assert await r.header_value("x-requested-with") == "XMLHttpRequest", r.url
    assert [r.method for r in sent] == ["GET", "GET", "POST", "GET", "POST"]
    form_type = await sent[2].header_value("content-type") or ""
    assert form_type.startswith("application/x-www-form-urlencoded"), form_type
    assert await sent[4].header_value("accept") == "application/json"
    assert await sent[4].header_value("content-type") == "application/json"
    assert await sent[4].header_value("authorization") == authorization

    # The node goes away under the frame: a network failure is answered with status 0.
    srv.stop()
    down = await relay(page, {"type": "get", "url": base + XFRAME_PATH, "headers": {"Accept": "text/html"}})
    down = assert_answer_shape(down, 0)
    assert down["headers"] == "" and down["responseText"] == ""
    await page.close()


@sqlite_only
async def test_frame_posts_nothing_but_answers(
    server: Server, parent_origin: Callable[[], str], context: BrowserContext
) -> None:
    origin = parent_origin()  # a loopback origin: allowed by the default configuration
    page = await open_parent(context, origin, server.base + XFRAME_PATH)
    # Messages that are not requests get no answer at all, and the frame posts nothing unasked: the
    # answer to the request below is the only message, and anything posted before it (on load, or
    # for the non-requests) would have arrived before it (postMessage keeps order).
    await page.evaluate("window.xframe.contentWindow.postMessage('not json', new URL(XFRAME).origin)")
    await page.evaluate("window.xframe.contentWindow.postMessage('42', new URL(XFRAME).origin)")
    answer = assert_answer_shape(
        await relay(
            page, {"type": "get", "url": server.base + "/", "headers": {"Accept": "application/json"}}
        ),
        200,
    )
    received = await page.evaluate("window.received")
    assert len(received) == 1, received
    assert received[0]["isString"] is True and received[0]["origin"] == server.base
    assert json.loads(received[0]["data"]) == answer
    await page.close()


@sqlite_only
async def test_disallowed_parent_gets_no_answer(
    make_server: MakeServer, parent_origin: Callable[[], str], context: BrowserContext
) -> None:
    allowed, other = parent_origin(), parent_origin()
    srv = make_server("--allowed-origin", allowed)  # a configured list replaces the loopback default
    probe = {"type": "get", "url": srv.base + XFRAME_PATH, "headers": {"Accept": "text/html"}}

    refused = await open_parent(context, other, srv.base + XFRAME_PATH)
    sent: list[Request] = []
    refused.on("request", lambda r: sent.append(r) if r.url.startswith(srv.base) else None)
    assert await relay(refused, dict(probe), timeout_s=SILENCE_S) is None
    assert await refused.evaluate("window.received") == []
    assert sent == [], "the frame relayed a request for a disallowed origin"

    # Control: the same frame answers a page on the configured origin.
    accepted = await open_parent(context, allowed, srv.base + XFRAME_PATH)
    assert_answer_shape(await relay(accepted, dict(probe)), 200)

    # The server's own check (SPEC §6.2) for a request that claims the refused origin.
    async with httpx.AsyncClient(base_url=srv.base) as client:
        r = await client.get("/", headers={"Accept": "application/json", "X-Ms-Origin": other})
        assert r.status_code == 403
        assert re.search(
            r'reason="Service does not allow a cross domain request from this origin\."',
            r.headers.get("X-Ms-diagnostics", ""),
        ), r.headers
        ok = await client.get("/", headers={"Accept": "application/json", "X-Ms-Origin": allowed})
        assert ok.status_code == 200


@sqlite_only
async def test_readiness_probe_and_foreign_urls(
    server: Server, parent_origin: Callable[[], str], context: BrowserContext
) -> None:
    origin = parent_origin()
    xframe = server.base + XFRAME_PATH
    page = await open_parent(context, origin, xframe)
    sent: list[Request] = []
    page.on("request", lambda r: sent.append(r) if r.url.startswith(origin) else None)

    # The library's readiness probe: GET the XFrame URL itself, Accept text/html → 200.
    probe = assert_answer_shape(
        await relay(page, {"type": "get", "url": xframe, "headers": {"Accept": "text/html"}}), 200
    )
    assert header(probe, "Content-Type")[0].startswith("text/html")
    assert "<script" in probe["responseText"]

    # A URL on another origin (here: the parent's) is not fetched; the frame answers status 0.
    foreign = assert_answer_shape(
        await relay(page, {"type": "get", "url": origin + "/", "messageId": "f"}), 0
    )
    assert foreign["messageId"] == "f"
    assert sent == []
    await page.close()


@sqlite_only
async def test_alias_is_the_same_frameable_page(
    server: Server, parent_origin: Callable[[], str], context: BrowserContext
) -> None:
    async with httpx.AsyncClient(base_url=server.base) as client:
        main = await client.get(XFRAME_PATH)
        alias = await client.get(ALIAS_PATH)
    assert alias.status_code == 200 and alias.text == main.text
    for r in (main, alias):
        assert "x-frame-options" not in r.headers
        assert "frame-ancestors" not in r.headers.get("content-security-policy", "")

    origin = parent_origin()
    page = await open_parent(context, origin, server.base + ALIAS_PATH)
    frame_urls = [f.url for f in page.frames]
    assert server.base + ALIAS_PATH in frame_urls
    probe = {"type": "get", "url": ALIAS_PATH, "headers": {"Accept": "text/html"}}  # path-relative
    answer = assert_answer_shape(await relay(page, probe), 200)
    assert answer["responseText"] == alias.text
    root = assert_answer_shape(
        await relay(page, {"type": "get", "url": "/", "accepts": "application/json"}), 200
    )
    assert json.loads(root["responseText"])["_links"]["xframe"]["href"] == server.base + XFRAME_PATH
    await page.close()


@sqlite_only
async def test_default_list_refuses_a_non_loopback_parent(
    server: Server, make_server: MakeServer, context: BrowserContext
) -> None:
    """With no list configured only loopback parents (and the page's own origin) are answered."""
    parent = "https://parent.example"  # not loopback; served by Playwright, no DNS involved

    async def serve_parent(route: Route) -> None:
        await route.fulfill(body=PARENT_HTML, content_type="text/html")

    await context.route(f"{parent}/**", serve_parent)
    # Chromium's Local Network Access checks block a public page from framing 127.0.0.1 otherwise.
    await context.grant_permissions(["local-network-access"], origin=parent)

    everyone = make_server("--allowed-origin", "*")
    for srv, answered in ((server, False), (everyone, True)):  # the shared node has the default list
        page = await open_parent(context, parent, srv.base + XFRAME_PATH)
        assert [f.url for f in page.frames][1:] == [srv.base + XFRAME_PATH], "the frame did not load"
        probe = {"type": "get", "url": srv.base + XFRAME_PATH, "headers": {"Accept": "text/html"}}
        answer = await relay(page, probe, timeout_s=5.0 if answered else SILENCE_S)
        if answered:
            assert_answer_shape(answer, 200)
        else:
            assert answer is None
            assert await page.evaluate("window.received") == []
        async with httpx.AsyncClient(base_url=srv.base) as client:
            r = await client.get("/", headers={"Accept": "application/json", "X-Ms-Origin": parent})
        assert r.status_code == (200 if answered else 403), (srv.args, r.status_code)
        await page.close()
