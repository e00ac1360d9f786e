"""The XML representation over HTTP (SPEC §3.2, §3.9): negotiation, and one model rendered two ways.

The central test drives a whole conversation in process (sign-in, presence, note, location,
subscriptions, search, startMessaging, accept, messages both ways, typing), with XML inputs where the
flow takes resource input, then fetches every resource reachable by links with a JSON Accept and
with an XML Accept, and every event page in both (the XML one as a replay of the JSON one), and
asserts that reading the XML back gives the same data: links with rel, href and title in order,
properties, lists, embedded resources, dates.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any

import httpx
from starlette.routing import Route

from openucwa.server.http import negotiate

from .conftest import BASE, SARA, AppSession, InProcess, InProcessFactory, connect_sara_and_lene, find_event
from .xml_shapes import (
    JSON,
    XML,
    error_from_xml,
    page_from_json,
    page_from_xml,
    post_xml,
    resource_from_json,
    resource_from_xml,
)

# -- negotiation ---------------------------------------------------------------------------------


def test_negotiation_follows_q_values_and_keeps_json_the_default() -> None:
    cases = {
        "": JSON,
        "*/*": JSON,
        "application/*": JSON,
        "text/html": JSON,
        "application/json; charset=utf-8": JSON,
        XML: XML,
        "application/xml": "application/xml",
        f"application/json;q=0.5, {XML}": XML,
        f"{XML};q=0.5, application/json": JSON,
        f"application/json, {XML}": JSON,
        f"{XML}, application/json": XML,  # equal quality: the client's order
        f"{XML};q=0, */*": JSON,
        "application/json;q=0, */*;q=0.1": "application/vnd.microsoft.com.ucwa+json",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": "application/xml",
        f"{XML};q=abc": JSON,
        f"{XML};q=7": JSON,
        ",;,;q=": JSON,
    }
    for accept, expected in cases.items():
        assert negotiate(accept) == expected, accept


async def test_every_response_kind_follows_accept(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        for accept, kind in ((XML, XML), ("application/xml", "application/xml"), ("*/*", JSON)):
            headers = {"Accept": accept}
            for r in (
                await srv.http.get("/", headers=headers),  # discovery
                await s.get(s.self_href, headers=headers),  # a resource
                await s.get(s.self_href + "/nothing", headers=headers),  # an error
                await _event_page(srv, s, s.link("events"), headers),  # an event page
                await srv.http.get(s.self_href, headers=headers),  # unauthenticated: no body at all
            ):
                if r.status_code == 401:
                    assert r.content == b""
                    continue
                assert r.headers["content-type"].startswith(kind), (accept, r.request.url)
                if kind != JSON:
                    assert r.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
                    ET.fromstring(r.content)


# -- one model, two representations ---------------------------------------------------------------


async def _conversation_in_xml(srv: InProcess) -> tuple[AppSession, AppSession, list[dict[str, Any]]]:
    """Sara and Lene talk, the inputs in XML where the flow allows; every event page Lene and Sara
    receive is returned as JSON (and was checked against its XML replay)."""
    sara, lene, messages = await connect_sara_and_lene(srv)
    pages: list[dict[str, Any]] = []

    async def drain(s: AppSession) -> dict[str, Any]:
        page = await _page_both_ways(srv, s, s.link("events"))
        pages.append(page)
        s.app["_links"]["events"]["href"] = page["_links"]["next"]["href"]
        return page

    for s in (sara, lene):
        s.app = (await s.get(s.self_href)).json()  # with the links makeMeAvailable added
        r = await post_xml(s, s.link("me", "presence"), {"availability": "Busy"})
        assert r.status_code == 204, r.text
        r = await post_xml(s, s.link("me", "note"), {"message": "In the <lab> & out"})
        assert r.status_code == 204, r.text
        r = await post_xml(s, s.link("me", "location"), {"location": "Oslo"})
        assert r.status_code == 204, r.text
        await drain(s)
    people = sara.app["_embedded"]["people"]["_links"]
    r = await post_xml(
        sara, people["presenceSubscriptions"]["href"], {"duration": "30", "uris": ["sip:lenea@contoso.com"]}
    )
    assert r.status_code == 201, r.text
    pages.append({"_links": {"created": {"href": r.headers["location"]}}})  # crawled below
    pages.append({"_links": {"search": {"href": people["search"]["href"] + "?query=lene"}}})
    r = await sara.post(messages, content="Hello Lene", headers={"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    srv.clock.advance(1)
    page = await drain(lene)
    msg = find_event(page, "message")
    reply = msg["_embedded"]["message"]["_links"]["messaging"]["href"] + "/messages"
    r = await lene.post(reply, content="<b>Hi</b> Sara", headers={"Content-Type": "text/html"})
    assert r.status_code == 201, r.text
    typing = reply.rsplit("/", 1)[0] + "/typing"
    assert (await post_xml(lene, typing, {})).status_code == 204
    conversation = (await sara.get(messages.rsplit("/", 2)[0])).json()
    r = await post_xml(
        sara, conversation["_links"]["addParticipant"]["href"], {"to": "sip:nobody@contoso.com"}
    )
    assert r.status_code == 201, r.text
    pages.append({"_links": {"created": {"href": r.headers["location"]}}})
    await drain(sara)
    await drain(lene)
    return sara, lene, pages


async def _page_both_ways(srv: InProcess, s: AppSession, href: str) -> dict[str, Any]:
    """The page in JSON, then twice in XML (replays of the same ack): same data, same bytes."""
    r = await _event_page(srv, s, href)
    assert r.status_code == 200, r.text
    first = await s.get(href, headers={"Accept": XML})
    again = await s.get(href, headers={"Accept": XML})
    assert first.headers["content-type"] == XML
    assert first.content == again.content
    assert page_from_xml(ET.fromstring(first.content)) == page_from_json(r.json())
    return dict(r.json())


async def _event_page(
    srv: InProcess, s: AppSession, href: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """A P-GET held for want of events is released by moving the clock past its timeout."""
    task = asyncio.ensure_future(s.get(href, headers=headers or {}))
    await srv.until(lambda: task.done() or srv.held() > 0)
    if not task.done():
        srv.clock.advance(181)
    return await task


# GET routes the crawl does not compare: the event channel (compared page by page above), photos
# (JPEG), distribution-group expansion (needs an LDAP directory), and what is not UCWA (XFrame
# page, operations endpoints, the web client's assets).
NOT_CRAWLED = {
    "events",
    "{user}",
    "expand",
    "xframe.html",
    "xframe",
    "healthz",
    "readyz",
    "metrics",
    "{path:path}",
}


def _hrefs(node: Any) -> list[str]:
    """Every href in a JSON document that the server serves itself."""
    out: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "href" and isinstance(v, str) and v.startswith(("/", BASE)):
                out.append(v.removeprefix(BASE))
            else:
                out += _hrefs(v)
    elif isinstance(node, list):
        for v in node:
            out += _hrefs(v)
    return out


async def test_every_resource_reads_the_same_in_json_and_xml(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        sara, lene, pages = await _conversation_in_xml(srv)
        compared: dict[str, str] = {}
        for s in (sara, lene):
            mine = [h for h in _hrefs(pages) if h.startswith(s.self_href)]
            queue = [s.self_href, "/", *mine]
            seen: set[str] = set()
            while queue:
                href = queue.pop(0)
                if href in seen or "/events" in href or "/photos/" in href:
                    continue
                seen.add(href)
                as_json = await s.get(href)
                as_xml = await s.get(href, headers={"Accept": XML})
                assert as_json.status_code == as_xml.status_code, href
                if as_json.status_code == 405:
                    continue  # an operation's href (POST only)
                if not as_json.headers["content-type"].startswith(JSON):
                    # Not a UCWA representation (the XFrame page): the same whatever Accept says.
                    assert as_xml.headers["content-type"] == as_json.headers["content-type"], href
                    continue
                root = ET.fromstring(as_xml.content)
                if as_json.status_code >= 400:
                    body = as_json.json()
                    got = error_from_xml(root)
                    assert got.pop("debugInfo")["requestId"] and body.pop("debugInfo")["requestId"]
                    assert got == body, href
                    compared[href] = "error"
                    continue
                data = as_json.json()
                assert resource_from_xml(root) == resource_from_json(data, data["rel"]), href
                assert as_json.headers.get("etag") == as_xml.headers.get("etag"), href
                compared[href] = data["rel"]
                queue += _hrefs(data)
        # Every GET route serving a UCWA resource was reached, and the event pages carried every
        # field an event can have.
        paths = [h.split("?")[0].lower() for h in compared]
        unreached = {
            r.path.rsplit("/", 1)[-1]
            for r in srv.app.router.routes
            if isinstance(r, Route)
            and "GET" in (r.methods or ())
            and not any(r.path_regex.match(p) for p in paths)
        }
        assert unreached == NOT_CRAWLED
        events = [e for p in pages for b in p.get("sender", []) for e in b["events"]]
        assert {k for e in events for k in e} == {"link", "type", "in", "status", "reason", "_embedded"}
        assert "error" in compared.values() and "search" in compared.values()
