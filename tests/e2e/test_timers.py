"""Invitations that nobody answers, messages nobody fetches, typing that stops (SPEC §15.3, §15.6, §16.6)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from .people import Party, connect, messaging_links, party
from .ucwa import find

FAST = {
    "OPENUCWA_INVITATION_TIMEOUT": "1.5",
    "OPENUCWA_MESSAGE_DELIVERY_TIMEOUT": "1.5",
    "OPENUCWA_TYPING_TIMEOUT": "1",
    "OPENUCWA_REAPER_INTERVAL": "0.2",
}


@pytest.fixture
def fast(make_isolated_server) -> Iterator[tuple[Party, Party]]:
    srv = make_isolated_server("--no-event-aggregation", env=FAST)
    tosh = party(srv, "toshm@contoso.com", "tosh-secret")
    lene = party(srv, "lenea@contoso.com", "lene-secret")
    yield tosh, lene
    for p in (tosh, lene):
        p.s.delete(p.a)


def test_unanswered_invitation_times_out_on_both_sides(fast) -> None:
    tosh, lene = fast
    t0 = time.monotonic()
    tosh.start_messaging()
    lene.ch.until("added", "participant")
    tev = tosh.ch.until("deleted", "conversation", within=8)
    assert time.monotonic() - t0 >= 1.4
    done = find(tev, "completed", "messagingInvitation")
    assert (done["status"], done["reason"]["code"], done["reason"]["subcode"]) == (
        "Failure",
        "RemoteFailure",
        "Timeout",
    )
    assert done["_embedded"]["messagingInvitation"]["state"] == "Failed"
    lev = lene.ch.until("deleted", "conversation", within=8)
    missed = find(lev, "completed", "messagingInvitation")
    assert (missed["reason"]["code"], missed["reason"]["subcode"]) == ("LocalFailure", "Missed")


def test_typing_expires(fast) -> None:
    tosh, lene = fast
    tev, lev, _ = connect(tosh, lene)
    typing = messaging_links(lev)["setIsTyping"]["href"]
    assert lene.s.post(typing).status_code == 204
    t0 = time.monotonic()
    tev = tosh.ch.until("deleted", "participant", within=6)
    assert time.monotonic() - t0 >= 0.9
    assert find(tev, "added", "participant")["in"]["rel"] == "typingParticipants"
    assert find(tev, "deleted", "participant")["in"]["rel"] == "typingParticipants"


def test_message_not_fetched_in_time_fails_for_the_sender(fast) -> None:
    tosh, lene = fast
    tev, _, _ = connect(tosh, lene)
    send = messaging_links(tev)["sendMessage"]["href"]
    r = tosh.s.post(send, content=b"anyone there?", headers={"Content-Type": "text/plain"})
    assert r.status_code == 201
    # Lene does not poll: the message event is withdrawn and Tosh is told
    tev = tosh.ch.until("completed", "message", within=8)
    out = find(tev, "completed", "message")
    assert (out["status"], out["reason"]["code"], out["reason"]["subcode"]) == (
        "Failure",
        "RemoteFailure",
        "Timeout",
    )
    m = out["_embedded"]["message"]
    assert m["status"] == "Failed" and m["_links"]["failedDeliveryParticipant"][0]["href"].endswith(
        "/participants/lenea@contoso.com"
    )
    # Lene never sees it, and a later message still arrives
    assert tosh.s.post(send, content=b"second", headers={"Content-Type": "text/plain"}).status_code == 201
    lev = lene.ch.until("completed", "message")
    texts = [
        e["_embedded"]["message"]["_links"]["plainMessage"]["href"]
        for e in lev
        if e["link"]["rel"] == "message"
    ]
    assert texts == ["data:text/plain;charset=utf-8,second"]
