"""A batch as the official samples' Batch.js builds it, against a real server (SPEC §10,
CLIENT-COMPAT §8): CRLF lines, ``--boundary`` delimiters, parts without credentials, the batch
through the XFrame relay's X-Ms-Origin. The answer is read back with the standard library's MIME
parser, an independent reader of what Mime.js reads."""

from __future__ import annotations

import email.policy
import json
import uuid
from email.message import Message
from email.parser import BytesParser

import httpx

from .people import Party
from .ucwa import find


def build(parts: list[tuple[str, str, dict[str, str], bytes]], host: str) -> tuple[str, bytes]:
    boundary = str(uuid.uuid4())
    lines: list[bytes] = []
    for method, path, headers, body in parts:
        lines += [f"--{boundary}".encode(), b"Content-Type: application/http; msgtype=request", b""]
        lines += [f"{method} {path} HTTP/1.1".encode(), f"Host: {host}".encode()]
        lines += [f"{k}: {v}".encode() for k, v in headers.items()]
        lines += [b"", body]
    lines += [f"--{boundary}--".encode(), b""]
    return f"multipart/batching;boundary={boundary}", b"\r\n".join(lines)


def responses(r: httpx.Response) -> list[tuple[int, dict[str, str], str]]:
    head = f"Content-Type: {r.headers['content-type']}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + r.content)
    assert message.get_content_type() == "multipart/batching" and not message.defects
    out = []
    for part in message.get_payload():
        assert isinstance(part, Message)
        assert part.get_content_type() == "application/http" and part.get_param("msgtype") == "response"
        raw = part.get_payload(decode=True)
        assert isinstance(raw, bytes) and not raw.startswith(b"\xef\xbb\xbf")
        status_line, _, rest = raw.decode().partition("\r\n")
        head_text, _, body = rest.partition("\r\n\r\n")
        headers = {k.lower(): v for k, _, v in (h.partition(": ") for h in head_text.split("\r\n") if h)}
        out.append((int(status_line.split(" ")[1]), headers, body))
    return out


def test_a_samples_batch_on_a_real_server(server, tosh: Party, lene: Party) -> None:
    s = tosh.s
    json_accept = {"Accept": "application/json"}
    start = s.app["_embedded"]["communication"]["_links"]["startMessaging"]["href"]
    invite = json.dumps(
        {"to": "sip:lenea@contoso.com", "operationId": "batch-op", "subject": "Batched"}
    ).encode()
    content_type, body = build(
        [
            ("GET", s.app["_embedded"]["people"]["_links"]["myContacts"]["href"], json_accept, b""),
            ("GET", s.app["_embedded"]["me"]["_links"]["self"]["href"], json_accept, b""),
            ("POST", start, {**json_accept, "Content-Type": "application/json"}, invite),
            ("GET", s.app["_links"]["events"]["href"], json_accept, b""),
        ],
        host="lyncweb.contoso.com",
    )
    r = httpx.post(
        s.url(s.app["_links"]["batch"]["href"]),
        content=body,
        headers={
            "Authorization": f"Bearer {s.token}",
            "Content-Type": content_type,
            "Accept": "multipart/batching",
            "X-Ms-Origin": "http://localhost",
            "X-Requested-With": "XMLHttpRequest",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    (contacts, me, started, events) = responses(r)
    assert contacts[0] == 200 and json.loads(contacts[2])["rel"] == "myContacts"
    assert me[0] == 200 and json.loads(me[2])["uri"] == "sip:toshm@contoso.com" and me[1]["etag"]
    assert started[0] == 201 and started[1]["location"].startswith(start + "/")
    assert events[0] == 400 and json.loads(events[2])["code"] == "BadRequest"
    assert all("\n" not in part_body for _, _, part_body in (contacts, me))
    lev = lene.ch.until("started", "messagingInvitation")
    inv = find(lev, "started", "messagingInvitation")["_embedded"]["messagingInvitation"]
    assert inv["subject"] == "Batched"
    tev = tosh.ch.until("started", "messagingInvitation")
    assert find(tev, "started", "messagingInvitation")["link"]["href"] == started[1]["location"]


def test_a_batch_without_a_token_is_challenged(server, tosh: Party) -> None:
    content_type, body = build([("GET", tosh.s.self_href + "/me", {}, b"")], host="x")
    r = httpx.post(
        tosh.s.url(tosh.s.app["_links"]["batch"]["href"]),
        content=body,
        headers={"Content-Type": content_type},
    )
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("MsRtcOAuth")
