"""Group conversations through addParticipant (SPEC §17)."""

from __future__ import annotations

from .people import Party, connect, messaging_links, text_of
from .ucwa import find


def test_add_a_third_participant_then_leave(parties, tosh: Party, lene: Party) -> None:
    sara = parties("sarad@contoso.com", "sara-secret")
    tev, lev, _ = connect(tosh, lene)
    ct = find(tev, "updated", "conversation", state="Connected")["link"]["href"]
    conv = tosh.s.get(ct).json()
    add = conv["_links"]["addParticipant"]["href"]
    assert "?conversation=" in add
    r = tosh.s.post(add, json={"to": "sip:sarad@contoso.com", "operationId": "add-1"})
    assert r.status_code == 201
    ploc = r.headers["location"]
    assert "/communication/participantInvitations/" in ploc
    tev = tosh.ch.until("updated", "conversation", state="Conferenced")
    started = find(tev, "started", "participantInvitation")["_embedded"]["participantInvitation"]
    assert started["operationId"] == "add-1" and started["state"] == "Connecting"
    assert find(lene.ch.until("updated", "conversation", state="Conferenced"), "updated", "conversation")
    # Sara gets an ordinary incoming messagingInvitation from Tosh, in the same thread
    sev = sara.ch.until("added", "participant")
    inv = find(sev, "started", "messagingInvitation")["_embedded"]["messagingInvitation"]
    assert inv["direction"] == "Incoming" and inv["_embedded"]["from"]["uri"] == "sip:toshm@contoso.com"
    assert inv["threadId"] == conv["threadId"]
    assert sara.s.post(inv["_links"]["accept"]["href"]).status_code == 204
    sev = sara.ch.until("completed", "messagingInvitation")
    assert find(sev, "updated", "conversation", state="Conferenced")
    cs = find(sev, "updated", "conversation")["link"]["href"]
    sara_parts = {
        p["href"].rsplit("/", 1)[1] for p in sara.s.get(cs + "/participants").json()["_links"]["participant"]
    }
    assert sara_parts == {"toshm@contoso.com", "lenea@contoso.com"}
    # everyone already there sees her arrive; Tosh's operation completes with her as accepted
    tev = tosh.ch.until("completed", "participantInvitation")
    assert find(tev, "added", "participant")["link"]["title"] == "Sara Davis"
    done = find(tev, "completed", "participantInvitation")
    assert done["status"] == "Success"
    assert done["_embedded"]["participantInvitation"]["_embedded"]["acceptedByParticipant"][0]["uri"] == (
        "sip:sarad@contoso.com"
    )
    assert tosh.s.get(ploc).json()["state"] == "Connected"
    lev = lene.ch.until("added", "participantMessaging")
    assert find(lev, "added", "participant")["link"]["title"] == "Sara Davis"
    # a message reaches both others
    send = messaging_links(lev_or_get(lene, lev))["sendMessage"]["href"]
    assert lene.s.post(send, content=b"hello all", headers={"Content-Type": "text/plain"}).status_code == 201
    for p in (tosh, sara):
        m = find(
            p.ch.until("completed", "message", direction="Incoming"),
            "completed",
            "message",
            direction="Incoming",
        )
        assert text_of(m["_embedded"]["message"]) == "hello all"
    # Sara leaves: the others see her go, the conversation goes on
    assert sara.s.delete(cs).status_code == 204
    sara.ch.until("deleted", "conversation")
    tev = tosh.ch.until("deleted", "participant")
    assert find(tev, "deleted", "participant")["link"]["href"].endswith("/participants/sarad@contoso.com")
    assert tosh.s.get(ct).json()["state"] == "Conferenced"
    lene.ch.until("deleted", "participant")
    # Lene leaves too: Tosh is the last one, his conversation ends
    cl = find(lev_or_get(lene, lev), "updated", "messaging")["link"]["href"].rsplit("/messaging", 1)[0]
    assert lene.s.delete(cl).status_code == 204
    tev = tosh.ch.until("deleted", "conversation")
    assert find(tev, "updated", "messaging", state="Disconnected")["reason"]["subcode"] == "CallTerminated"


def lev_or_get(p: Party, events: list) -> list:
    """Lene's connected messaging event, or a fresh GET of her messaging when not in ``events``."""
    for e in events:
        if (
            e["link"]["rel"] == "messaging"
            and e.get("_embedded", {}).get("messaging", {}).get("state") == "Connected"
        ):
            return [e]
    conv = next(e["link"]["href"] for e in events if e["link"]["rel"] == "participant")
    base = conv.split("/participants/")[0]
    body = p.s.get(base + "/messaging").json()
    return [
        {
            "type": "updated",
            "link": {"rel": "messaging", "href": base + "/messaging"},
            "_embedded": {"messaging": body},
            "_sender": {"rel": "conversation", "href": base},
        }
    ]


def test_add_participant_bad_input(tosh: Party, lene: Party) -> None:
    tev, _, _ = connect(tosh, lene)
    ct = find(tev, "updated", "conversation", state="Connected")["link"]["href"]
    add = tosh.s.get(ct).json()["_links"]["addParticipant"]["href"]
    assert tosh.s.post(add, json={}).status_code == 400
    assert tosh.s.post(add, json={"to": "sip:toshm@contoso.com"}).status_code == 400
    assert tosh.s.post(add, json={"to": "sip:lenea@contoso.com"}).status_code == 400
    r = tosh.s.post(add, json={"to": "sip:nobody@contoso.com"})
    assert r.status_code == 201
    done = find(tosh.ch.until("completed", "participantInvitation"), "completed", "participantInvitation")
    assert (done["status"], done["reason"]["subcode"]) == ("Failure", "DestinationNotFound")
