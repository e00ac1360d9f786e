"""``POST A/batch`` in process (SPEC §10): parts answered in order through the same routes,
as the caller, with per-part refusals, the 100-request allowance and malformed bodies."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson

from openucwa.server.routes.batch import BATCHED

from .conftest import BASE, LENE, SARA, AppSession, InProcessFactory, connect_sara_and_lene, find_event


def batch_body(*requests: tuple[str, str, dict[str, str], bytes], boundary: str) -> bytes:
    """As a deployed client builds it (Batch.js): CRLF lines, --boundary delimiters, a closing one."""
    out = []
    for method, path, headers, body in requests:
        head = [
            f"{method} {path} HTTP/1.1",
            "Host: lyncweb.contoso.com",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        out.append(
            f"--{boundary}\r\nContent-Type: application/http; msgtype=request\r\n\r\n".encode()
            + ("\r\n".join(head) + "\r\n\r\n").encode()
            + body
            + b"\r\n"
        )
    return b"".join(out) + f"--{boundary}--\r\n".encode()


def read_batch(r: httpx.Response) -> list[tuple[int, dict[str, str], bytes]]:
    """Splits a multipart/batching answer by its boundary, each part's status, headers and body."""
    ctype = r.headers["content-type"]
    assert ctype.startswith("multipart/batching; boundary=")
    boundary = ctype.split("boundary=", 1)[1].strip('"').encode()
    chunks = r.content.split(b"--" + boundary)
    assert chunks[0] == b"" and chunks[-1] == b"--\r\n"
    out = []
    for chunk in chunks[1:-1]:
        assert chunk.startswith(b"\r\n") and chunk.endswith(b"\r\n")
        mime, _, message = chunk[2:-2].partition(b"\r\n\r\n")
        assert mime == b"Content-Type: application/http; msgtype=response"
        head, _, body = message.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        version, status, _reason = status_line.split(" ", 2)
        assert version == "HTTP/1.1"
        headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines)}
        out.append((int(status), headers, body))
    return out


async def post_batch(
    s: AppSession, *requests: tuple[str, str, dict[str, str], bytes], **kw: Any
) -> httpx.Response:
    boundary = str(uuid.uuid4())
    headers = {"Content-Type": f"multipart/batching;boundary={boundary}", "Accept": "multipart/batching"}
    return await s.post(
        s.link("batch"), content=batch_body(*requests, boundary=boundary), headers=headers, **kw
    )


JSON = {"Accept": "application/json"}


async def test_gets_and_a_post_answered_in_request_order(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        sara, lene, send = await connect_sara_and_lene(srv)
        assert sara.link("batch") == sara.self_href + "/batch"
        me, people = sara.link("me", "self"), sara.link("people", "myContacts")
        r = await post_batch(
            sara,
            ("GET", people, JSON, b""),
            ("GET", me, JSON, b""),
            ("POST", send, {"Content-Type": "text/plain"}, b"Hello from a batch"),
            (
                "POST",
                sara.link("communication", "startMessaging"),
                {**JSON, "Content-Type": "application/json"},
                orjson.dumps({"to": "sip:lenea@contoso.com", "operationId": "op2"}),
            ),
            ("GET", sara.self_href + "/nowhere", JSON, b""),
        )
        assert r.status_code == 200, r.text
        parts = read_batch(r)
        assert [p[0] for p in parts] == [200, 200, 201, 201, 404]
        single_me = await sara.get(me)
        assert parts[1][2] == single_me.content  # the same bytes as the single request
        assert parts[1][1]["etag"] == single_me.headers["etag"]
        assert parts[1][1]["content-type"] == "application/json; charset=utf-8"
        assert orjson.loads(parts[0][2])["rel"] == "myContacts"
        assert parts[2][1]["location"].startswith(send + "/")
        assert parts[3][1]["location"].startswith(sara.link("communication", "startMessaging") + "/")
        assert orjson.loads(parts[4][2])["code"] == "NotFound"
        assert all(b"\n" not in body for _, _, body in parts)  # one line each (Mime.js reads lines)
        first = (await lene.get(lene.link("events"))).json()  # batch 1 again: the invitation
        page = (await lene.get(first["_links"]["next"]["href"])).json()
        message = find_event(page, "message")["_embedded"]["message"]
        assert message["_links"]["plainMessage"]["href"].endswith("Hello+from+a+batch")
        assert srv.app.runtime.batched.held(SARA[0]) == 0


async def test_parts_run_as_the_caller_only(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        sara, lene = await srv.sign_in(*SARA[::2]), await srv.sign_in(*LENE[::2])
        no_token = await srv.http.post(
            sara.link("batch"),
            content=b"--b\r\n\r\n--b--",
            headers={"Content-Type": "multipart/batching; boundary=b"},
        )
        assert no_token.status_code == 401 and "MsRtcOAuth" in no_token.headers["www-authenticate"]
        # Sara's batch carrying Lene's token and cookie in a part: the batch's token wins.
        lene_auth = {"Authorization": lene.headers["Authorization"], "Cookie": "cwt_ucwa=x", **JSON}
        r = await post_batch(
            sara,
            ("GET", lene.link("me", "self"), lene_auth, b""),
            ("GET", sara.link("me", "self"), lene_auth, b""),
        )
        (other, own) = read_batch(r)
        assert other[0] == 404 and orjson.loads(other[2])["subcode"] == "ApplicationNotFound"
        assert own[0] == 200 and orjson.loads(own[2])["uri"] == f"sip:{SARA[0]}"
        # Lene cannot post to Sara's batch resource at all.
        refused = await post_batch(lene, ("GET", lene.link("me", "self"), JSON, b""))
        assert refused.status_code == 200  # her own
        r = await lene.post(
            sara.link("batch"),
            content=batch_body(("GET", lene.link("me", "self"), JSON, b""), boundary="b"),
            headers={"Content-Type": "multipart/batching; boundary=b"},
        )
        assert r.status_code == 404 and r.json()["subcode"] == "ApplicationNotFound"


async def test_refused_parts_answer_400_and_the_rest_run(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        sara = await srv.sign_in(*SARA[::2])
        a = sara.self_href
        r = await post_batch(
            sara,
            (
                "POST",
                a + "/batch",
                {"Content-Type": "multipart/batching; boundary=x"},
                b"--x\r\n\r\nGET /ucwa HTTP/1.1\r\n--x--",
            ),
            ("GET", sara.link("events"), JSON, b""),
            ("GET", a + "/photos/sarad@contoso.com", JSON, b""),
            ("GET", a.upper().replace("/APPLICATIONS", "//applications") + "/%62atch", JSON, b""),
            ("GET", "/WebTicket/oauthtoken", JSON, b""),
            ("GET", sara.link("me", "self"), JSON, b""),
        )
        assert r.status_code == 200
        parts = read_batch(r)
        assert [p[0] for p in parts] == [400, 400, 400, 400, 400, 200]
        assert {orjson.loads(p[2])["code"] for p in parts[:5]} == {"BadRequest"}
        # A refusal is rendered as the application renders errors, for the part's own Accept.
        xml = {"Accept": "application/vnd.microsoft.com.ucwa+xml"}
        (refused,) = read_batch(await post_batch(sara, ("GET", sara.link("events"), xml, b"")))
        single = await sara.get(a + "/nowhere", headers=xml)
        assert refused[1]["content-type"] == single.headers["content-type"]


async def test_over_100_outstanding_is_429_and_nothing_runs(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        sara, lene, send = await connect_sara_and_lene(srv)
        post = ("POST", send, {"Content-Type": "text/plain"}, b"must not be sent")
        r = await post_batch(sara, *[post] * 101)
        assert r.status_code == 429 and r.json()["code"] == "TooManyRequests"
        # Another batch of Sara's holds 95 requests: 6 more are refused, 5 fit.
        srv.app.runtime.batched.reserve(SARA[0], 95)
        r = await post_batch(sara, *[post] * 6)
        assert r.status_code == 429
        page = (await lene.get(lene.link("events"))).json()
        assert "must not be sent" not in orjson.dumps(page).decode()
        r = await post_batch(sara, *[("GET", sara.link("me", "self"), JSON, b"")] * 5)
        assert [p[0] for p in read_batch(r)] == [200] * 5
        assert srv.app.runtime.batched.held(SARA[0]) == 95
        # Lene has an allowance of her own.
        r = await post_batch(lene, *[("GET", lene.link("me", "self"), JSON, b"")] * 100)
        assert r.status_code == 200 and len(read_batch(r)) == 100


async def test_concurrent_batches_give_their_allowance_back(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        sara = await srv.sign_in(*SARA[::2])
        get = ("GET", sara.link("me", "self"), JSON, b"")
        answers = await asyncio.gather(*(post_batch(sara, *[get] * 40) for _ in range(4)))
        statuses = sorted(r.status_code for r in answers)
        assert statuses[0] == 200 and set(statuses) <= {200, 429}
        assert srv.app.runtime.batched.held(SARA[0]) == 0


async def test_malformed_and_wrong_type(in_process: InProcessFactory) -> None:
    async with in_process(max_body_bytes=4096) as srv:
        sara = await srv.sign_in(*SARA[::2])
        href = sara.link("batch")
        cases = [
            ("application/json", b"{}", 415, "UnsupportedMediaType"),
            ("multipart/batching", b"--b\r\n", 400, "BadRequest"),
            ("multipart/batching; boundary=b", b"garbage", 400, "BadRequest"),
            (
                "multipart/batching; boundary=b",
                b"--b\r\nContent-Type: multipart/batching; boundary=c\r\n\r\n--b--",
                400,
                "BadRequest",
            ),
            ("multipart/batching; boundary=b", b"--b\r\n\r\n" + b"x" * 5000, 413, "EntityTooLarge"),
        ]
        for ctype, body, status, code in cases:
            r = await sara.post(href, content=body, headers={"Content-Type": ctype})
            assert (r.status_code, r.json()["code"]) == (status, code), (ctype, body[:40])
        r = await sara.get(href)
        assert r.status_code == 405


async def test_parts_keep_their_own_content_types(in_process: InProcessFactory) -> None:
    """Accept and Content-Type of a part reach its route unchanged (JSON, vendor JSON or XML): each
    part answers exactly what the single request answers."""
    async with in_process() as srv:
        sara = await srv.sign_in(*SARA[::2])
        me, note = sara.link("me", "self"), sara.self_href + "/me/note"
        xml = "application/vnd.microsoft.com.ucwa+xml"
        xml_note = (
            b'<input xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">'
            b'<property name="message">Hi</property></input>'
        )
        requests = [
            ("GET", me, {"Accept": "application/vnd.microsoft.com.ucwa+json"}, b""),
            ("GET", me, {"Accept": xml}, b""),
            ("POST", note, {"Content-Type": xml, "Accept": xml}, xml_note),
            ("POST", note, {"Content-Type": "application/json"}, b'{"message":"Hi"}'),
        ]
        parts = read_batch(await post_batch(sara, *requests))
        for (method, href, headers, body), (status, part_headers, part_body) in zip(
            requests, parts, strict=True
        ):
            single = await sara.http.request(method, href, headers={**sara.headers, **headers}, content=body)
            assert status == single.status_code, (href, headers)
            assert part_headers.get("content-type") == single.headers.get("content-type")
            if status != 200:  # errors carry a request id of their own
                assert part_body.split(b"debugInfo")[0] == single.content.split(b"debugInfo")[0]
            else:
                assert part_body == single.content


async def test_the_batch_route_refuses_to_run_inside_a_batch(in_process: InProcessFactory) -> None:
    """Defence in depth behind the path check: a request marked as a batch part never batches."""
    async with in_process() as srv:
        sara = await srv.sign_in(*SARA[::2])

        async def as_part(scope: Any, receive: Any, send: Any) -> None:
            await srv.app({**scope, BATCHED: True}, receive, send)

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=as_part), base_url=BASE) as http:
            body = batch_body(("GET", sara.link("me", "self"), JSON, b""), boundary="b")
            headers = {**sara.headers, "Content-Type": "multipart/batching; boundary=b"}
            r = await http.post(sara.link("batch"), content=body, headers=headers)
        assert r.status_code == 400 and r.json()["code"] == "BadRequest"
