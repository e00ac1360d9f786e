"""Quotas (findings of issue #10: one user pushed 340 messages/s of 64 KiB into a peer who was not
polling; the next P-GET returned one 38 MiB batch) and sign-in protection (no limit on attempts)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from openucwa.actions import users

from .conftest import LENE, SARA, InProcessFactory, connect_sara_and_lene


def _text(body: str) -> dict[str, Any]:
    return {"content": body.encode(), "headers": {"Content-Type": "text/plain"}}


async def test_message_count_quota(in_process: InProcessFactory) -> None:
    async with in_process(message_rate="3/minute") as srv:
        sara, _lene, send = await connect_sara_and_lene(srv)
        for i in range(3):
            assert (await sara.post(send, **_text(f"m{i}"))).status_code == 201
        r = await sara.post(send, **_text("one too many"))
        assert r.status_code == 429 and r.json()["code"] == "TooManyRequests"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        metrics = (await srv.http.get("/metrics")).text  # from loopback: served without a token
        assert 'openucwa_rate_limit_hits_total{limit="send"} 1.0' in metrics


async def test_message_bytes_quota(in_process: InProcessFactory) -> None:
    async with in_process(message_bytes_rate="100000/minute") as srv:
        sara, _lene, send = await connect_sara_and_lene(srv)
        assert (await sara.post(send, **_text("x" * 60_000))).status_code == 201
        r = await sara.post(send, **_text("x" * 60_000))
        assert r.status_code == 429 and "retry-after" in r.headers
        assert (await sara.post(send, **_text("small"))).status_code == 201  # what is left


async def test_a_message_refused_for_its_bytes_costs_no_message_count(in_process: InProcessFactory) -> None:
    async with in_process(message_rate="2/minute", message_bytes_rate="100000/minute") as srv:
        sara, _lene, send = await connect_sara_and_lene(srv)
        assert (await sara.post(send, **_text("x" * 60_000))).status_code == 201
        assert (await sara.post(send, **_text("x" * 60_000))).status_code == 429  # bytes
        assert (await sara.post(send, **_text("second"))).status_code == 201  # the count had 1 left
        assert (await sara.post(send, **_text("third"))).status_code == 429  # count


async def test_invitation_quota(in_process: InProcessFactory) -> None:
    async with in_process(invitation_rate="2/minute") as srv:
        sara = await srv.sign_in(*SARA[::2])
        await sara.post(sara.link("me", "makeMeAvailable"), json={})
        start = sara.link("communication", "startMessaging")
        statuses = [
            (await sara.post(start, json={"to": "sip:lenea@contoso.com"})).status_code for _ in range(3)
        ]
        assert statuses == [201, 201, 429]


async def test_a_batch_is_capped_and_the_rest_waits_in_order(in_process: InProcessFactory) -> None:
    async with in_process(max_batch_bytes=20_000) as srv:
        sara, lene, send = await connect_sara_and_lene(srv)
        page = (await lene.get(lene.link("events"))).json()  # what the accept produced
        sent = [f"{i:02d}" + "y" * 3000 for i in range(20)]  # about 80 KB of message events
        for body in sent:
            assert (await sara.post(send, **_text(body))).status_code == 201
        got: list[str] = []
        batches = 0
        while len(got) < len(sent):
            raw = await lene.get(page["_links"]["next"]["href"])
            assert len(raw.content) < 20_000 + 8_000  # the cap, plus one event that began under it
            page = raw.json()
            batches += 1
            for block in page.get("sender", []):
                for e in block["events"]:
                    if e["link"]["rel"] == "message" and e["type"] == "completed":
                        href = e["_embedded"]["message"]["_links"]["plainMessage"]["href"]
                        got.append(href.split(",", 1)[1][:2])
        assert got == [b[:2] for b in sent]  # every message once, in order
        assert batches >= 4


async def test_failed_sign_ins_back_off_per_account(in_process: InProcessFactory) -> None:
    async with in_process(signin_account_failures="3/minute") as srv:
        form = {"grant_type": "password", "username": "sarad@contoso.com", "password": "wrong"}
        for _ in range(3):
            r = await srv.http.post("/WebTicket/oauthtoken", data=form)
            assert (r.status_code, r.json()) == (400, {"error": "invalid_grant"})
        throttled = await srv.http.post("/WebTicket/oauthtoken", data={**form, "password": SARA[2]})
        assert throttled.status_code == 429 and throttled.json()["error"] == "temporarily_unavailable"
        assert int(throttled.headers["retry-after"]) >= 1
        lene = await srv.http.post(
            "/WebTicket/oauthtoken", data={**form, "username": LENE[0], "password": LENE[2]}
        )
        assert lene.status_code == 200  # another account is not affected
        unknown = {**form, "username": "nobody@contoso.com"}
        assert [
            (await srv.http.post("/WebTicket/oauthtoken", data=unknown)).status_code for _ in range(4)
        ] == [
            400,
            400,
            400,
            429,
        ]  # an unknown name is throttled alike: nothing tells it apart


async def test_failed_sign_ins_back_off_per_address(in_process: InProcessFactory) -> None:
    async with in_process(behind_proxy=True, signin_address_failures="2/minute") as srv:

        def attempt(user: str, address: str) -> Any:
            form = {"grant_type": "password", "username": user, "password": "wrong"}
            return srv.http.post("/WebTicket/oauthtoken", data=form, headers={"X-Forwarded-For": address})

        assert (await attempt(SARA[0], "203.0.113.9")).status_code == 400
        assert (await attempt(LENE[0], "203.0.113.9")).status_code == 400
        assert (await attempt("third@contoso.com", "203.0.113.9")).status_code == 429
        assert (await attempt("third@contoso.com", "203.0.113.10")).status_code == 400


async def test_password_checks_queue(in_process: InProcessFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """With password_checks=1, concurrent sign-ins are all served, one password check at a time."""
    running = peak = 0
    real = users.authenticate

    async def counting(*args: Any) -> Any:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            return await real(*args)
        finally:
            running -= 1

    monkeypatch.setattr(users, "authenticate", counting)
    async with in_process(password_checks=1) as srv:
        form = {"grant_type": "password", "username": SARA[0], "password": SARA[2]}
        answers = await asyncio.gather(*(srv.http.post("/WebTicket/oauthtoken", data=form) for _ in range(5)))
        assert [a.status_code for a in answers] == [200] * 5
        assert peak == 1
