"""``POST A/batch`` fuzzed in process: batches of real and odd requests, then cut, spliced and
bit-flipped. Neither the batch nor any part answers 5xx, nothing hangs, every reserved request is
given back, and the server still answers afterwards. ``OPENUCWA_FUZZ_EXAMPLES`` scales the run."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import SARA, AppSession, InProcess, InProcessFactory
from .test_batch import read_batch

EXAMPLES = max(50, int(os.environ.get("OPENUCWA_FUZZ_EXAMPLES", "2000")) // 10)
PIECES = [b"--b1", b"--b1--", b"\r\n", b"\n", b": ", b" ", b"\x00", b"\xff", b"HTTP/1.1", b"%2e%2e/", b"//"]


@st.composite
def batches(draw: st.DrawFn, hrefs: list[str]) -> bytes:
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "get", "BREW"]))
        target = draw(st.sampled_from(hrefs) | st.text(max_size=30).map(lambda t: "/" + t))
        headers = draw(
            st.lists(
                st.sampled_from(
                    [
                        b"Accept: application/json",
                        b"Accept: application/vnd.microsoft.com.ucwa+xml",
                        b"Content-Type: application/json",
                        b"Content-Type: text/plain",
                        b"Content-Type: multipart/batching; boundary=b1",
                        b"Content-Length: 2",
                        b"Content-Length: 999",
                        b"Authorization: Bearer cwt=nope",
                        b"Host: elsewhere.example",
                        b"X-Ms-Origin: http://evil.example",
                    ]
                ),
                max_size=4,
            )
        )
        body = draw(st.sampled_from([b"", b"{}", b'{"to":"sip:lenea@contoso.com"}', b"hi", b"<input/>"]))
        line = f"{method} {target} HTTP/1.1".encode("utf-8", "surrogatepass")
        head = b"\r\n".join([line, *headers])
        parts.append(
            b"--b1\r\nContent-Type: application/http; msgtype=request\r\n\r\n" + head + b"\r\n\r\n" + body
        )
    data = bytearray(b"\r\n".join(parts) + b"\r\n--b1--\r\n")
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        if draw(st.booleans()):
            del data[at : at + draw(st.integers(1, 12))]
        else:
            data[at:at] = draw(st.sampled_from(PIECES))
    return bytes(data)


async def _post(srv: InProcess, s: AppSession, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "multipart/batching; boundary=b1"}
    return await asyncio.wait_for(s.post(s.link("batch"), content=body, headers=headers), 20)


def test_batches_never_answer_5xx_or_hang(in_process: InProcessFactory) -> None:
    asyncio.run(_fuzz(in_process))


async def _fuzz(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        a = s.self_href
        hrefs = [
            s.link("me", "self"),
            s.link("me", "makeMeAvailable"),
            s.link("people", "myContacts"),
            s.link("communication", "startMessaging"),
            s.link("events"),
            a + "/policies",
            a + "/batch",
            a + "/photos/sarad@contoso.com",
            "/ucwa/oauth/v1/applications",
            "https://lyncweb.contoso.com" + a + "/me",
        ]
        loop = asyncio.get_running_loop()
        failures: list[str] = []

        @settings(
            max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(body=batches(hrefs))
        def case(body: bytes) -> None:
            r = asyncio.run_coroutine_threadsafe(_post(srv, s, body), loop).result(30)
            statuses = [r.status_code]
            if r.status_code == 200:
                statuses += [status for status, _, _ in read_batch(r)]
            if max(statuses) >= 500:
                failures.append(f"{statuses} {body!r}")
            assert max(statuses) < 500, failures[-1]
            assert srv.app.runtime.batched.held(SARA[0]) == 0

        await asyncio.to_thread(case)
        assert failures == []
        r: Any = await s.get(s.link("me", "self"))
        assert r.status_code == 200
