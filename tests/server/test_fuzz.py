"""Every route, fuzzed in process: Hypothesis picks the method, path parameters, query string,
headers (content types, charsets, Accept, Host) and body. Nothing may answer 5xx or hang, and the
server must still answer afterwards. ``OPENUCWA_FUZZ_EXAMPLES`` sets how many cases (2,000 in
``make test``; raise it for a nightly run)."""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from .conftest import SARA, AppSession, InProcess, InProcessFactory

EXAMPLES = int(os.environ.get("OPENUCWA_FUZZ_EXAMPLES", "2000"))
METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"]
CHARSETS = ["utf-8", "UTF-16", "latin1", "unicode_escape", "utf-7", "rot13", "x-nonsense", "'utf-8'", ""]
TYPES = [
    "application/json",
    "application/vnd.microsoft.com.ucwa+json",
    "application/vnd.microsoft.com.ucwa+xml",
    "application/xml",
    "text/plain",
    "text/html",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "multipart/batching; boundary=x",
    "",
]
NUMBERS = ["1", "0", "-1", "9" * 19, "9" * 40, "１２", "1_000", " 7", "1e3", "0x10", "", "٣"]
# Bodies that broke parsers before: lone surrogates once decoded (in unicode_escape or UTF-7),
# a BOM, numbers no column holds, deep nesting.
TRICKY = [
    b'{"userAgent": "\\ud800", "endpointId": "e", "culture": "en-US"}',
    b"+2AA-",
    b'{"to": "+2AA-"}',
    b"\xef\xbb\xbf{}",
    b"\xff\xfe{\x00}\x00",
    b'{"ack": 99999999999999999999999}',
    b"[" * 5000 + b"]" * 5000,
    b'{"limit": "\xef\xbc\x91\xef\xbc\x92"}',
    b'<!DOCTYPE i [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><input><property name="to">&b;</property>'
    b"</input>",
    b"<input>" + b"<x>" * 5000 + b"</x>" * 5000 + b"</input>",
    b'<input xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa"><property name="to">sip:x</property>'
    b"</input>",
]
WORDS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)


def _json_bodies() -> st.SearchStrategy[bytes]:
    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | WORDS,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(WORDS, c, max_size=3),
        max_leaves=8,
    )
    return st.dictionaries(WORDS, values, max_size=5).map(
        lambda d: httpx.Request("POST", "http://x", json=d).content
    )


@st.composite
def requests(draw: st.DrawFn, templates: list[str], ids: dict[str, str]) -> dict[str, Any]:
    template = draw(st.sampled_from(templates))

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        known = [ids[name]] if name in ids else []
        word = WORDS.filter(lambda w: w != "").map(lambda w: quote(w, safe=""))
        return draw(st.sampled_from([*known, "x", "0", "%2e%2e", "lenea@contoso.com"]) | word)

    path = re.sub(r"\{(\w+)\}", fill, template)
    query = draw(
        st.dictionaries(
            st.sampled_from(
                [
                    "ack",
                    "timeout",
                    "priority",
                    "before",
                    "limit",
                    "low",
                    "medium",
                    "query",
                    "to",
                    "conversation",
                    "operationId",
                    "x",
                ]
            ),
            st.sampled_from(NUMBERS) | WORDS,
            max_size=4,
        )
    )
    ctype = draw(st.sampled_from(TYPES))
    charset = draw(st.sampled_from(CHARSETS))
    headers = {
        "Accept": draw(
            st.sampled_from(
                [
                    "application/json",
                    "*/*",
                    "text/html",
                    "application/xml",
                    "application/vnd.microsoft.com.ucwa+xml",
                    "",
                ]
            )
        )
    }
    if ctype:
        headers["Content-Type"] = f"{ctype}; charset={charset}" if charset else ctype
    if draw(st.booleans()):
        headers["Host"] = draw(
            st.sampled_from(["lync.contoso.com", 'a"b', "[::1]:1", "x:99999", "openucwa.test"])
        )
    body = draw(
        st.one_of(st.binary(max_size=300), _json_bodies(), WORDS.map(str.encode), st.sampled_from(TRICKY))
    )
    return {
        "method": draw(st.sampled_from(METHODS)),
        "url": path,
        "params": query,
        "headers": headers,
        "content": body,
    }


async def _run(srv: InProcess, s: AppSession, req: dict[str, Any]) -> httpx.Response:
    task = asyncio.ensure_future(s.http.request(**{**req, "headers": {**s.headers, **req["headers"]}}))
    done, _ = await asyncio.wait({task}, timeout=5)
    if not done:  # a valid P-GET is held until its deadline: move the node's clock past it
        assert srv.held() > 0, f"no answer and nothing held: {req}"
        srv.clock.advance(3600)
    return await asyncio.wait_for(task, 10)


def test_no_route_answers_5xx_or_hangs(in_process: InProcessFactory) -> None:
    asyncio.run(_fuzz(in_process))


async def _fuzz(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        app_id = s.self_href.rsplit("/", 1)[1]
        templates = [r.path for r in srv.app.router.routes if isinstance(r, Route)]
        ids = {"app_id": app_id, "user": "sarad@contoso.com", "n": "1"}
        loop = asyncio.get_running_loop()
        failures: list[str] = []

        @settings(
            max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(req=requests(templates, ids))
        def case(req: dict[str, Any]) -> None:
            r = asyncio.run_coroutine_threadsafe(_run(srv, s, req), loop).result(30)
            if r.status_code >= 500:
                failures.append(f"{r.status_code} {req} {r.text[:200]}")
            assert r.status_code < 500, failures[-1]

        await asyncio.to_thread(case)
        assert failures == []
        r = await srv.http.get("/", headers={"Accept": "application/json"})
        assert r.status_code == 200  # and it still answers
