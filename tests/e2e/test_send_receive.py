"""The seed story, step for step (flows/send-an-im.md and receive-an-im.md), on a real server."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_plus

from .people import HEX32, SEED_BODY, Party, connect, messaging_links, text_of
from .ucwa import find, index, summary


def test_send_an_im_as_the_seed_shows(tosh: Party, lene: Party) -> None:
    # step 1: startMessaging → 201 + Location
    loc = tosh.start_messaging()
    assert loc.startswith(tosh.a + "/communication/messagingInvitations/")
    assert HEX32.match(loc.rsplit("/", 1)[1])
    # step 2: started, added conversation | added localParticipant, updated messaging
    tev = tosh.ch.until("updated", "messaging")
    assert summary(tev)[:4] == [
        "[communication] started messagingInvitation",
        "[communication] added conversation",
        "[conversation] added localParticipant",
        "[conversation] updated messaging",
    ]
    started = tev[0]
    assert started["link"]["href"] == loc
    inv = started["_embedded"]["messagingInvitation"]
    assert inv["direction"] == "Outgoing" and inv["state"] == "Connecting" and inv["importance"] == "Normal"
    assert inv["subject"] == "Task Sample" and inv["operationId"] == SEED_BODY["operationId"]
    ct = inv["_links"]["conversation"]["href"]
    assert inv["_links"]["self"]["href"] == loc
    assert inv["_links"]["from"] == {"href": ct + "/participants/toshm@contoso.com", "title": "Tosh Meston"}
    assert inv["_links"]["to"]["href"] == tosh.a + "/people/lenea@contoso.com"
    assert inv["_links"]["cancel"]["href"] == ct + "/messaging/terminate"
    assert inv["_links"]["messaging"]["href"] == ct + "/messaging"
    thread = inv["threadId"]
    conv = tev[1]["_embedded"]["conversation"]
    assert (conv["state"], conv["threadId"], conv["activeModalities"], conv["recording"]) == (
        "Connecting",
        thread,
        [],
        False,
    )
    assert tev[1]["_sender"] == {"rel": "communication", "href": tosh.a + "/communication"}
    local = tev[2]
    assert local["link"]["title"] == "Tosh Meston"
    assert local["_embedded"]["localParticipant"]["rel"] == "participant"
    assert local["_embedded"]["localParticipant"]["_links"]["me"]["href"] == tosh.a + "/me"
    assert tev[2]["_sender"] == {"rel": "conversation", "href": ct}
    m = tev[3]["_embedded"]["messaging"]
    assert m["state"] == "Connecting" and set(m["_links"]) == {"self", "conversation", "stopMessaging"}
    # step 3: before Lene answers, messaging is Connecting and sending is refused
    assert tosh.s.get(ct + "/messaging").json()["state"] == "Connecting"
    r = tosh.s.post(ct + "/messaging/messages", content=b"early", headers={"Content-Type": "text/plain"})
    assert r.status_code == 409
    # R1 on Lene's side
    lev = lene.ch.until("added", "participant")
    assert summary(lev)[:4] == [
        "[communication] started messagingInvitation",
        "[communication] added conversation",
        "[conversation] added localParticipant",
        "[conversation] added participant",
    ]
    linv = lev[0]["_embedded"]["messagingInvitation"]
    cl = linv["_links"]["conversation"]["href"]
    assert linv["direction"] == "Incoming" and "operationId" not in linv and linv["threadId"] == thread
    assert "message" not in linv["_links"] and "?" not in linv["_links"]["accept"]["href"]
    assert linv["_links"]["accept"]["href"] == lev[0]["link"]["href"] + "/accept"
    assert linv["_links"]["decline"]["href"] == lev[0]["link"]["href"] + "/decline"
    frm = linv["_embedded"]["from"]
    assert frm["name"] == "Tosh Meston" and frm["uri"] == "sip:toshm@contoso.com"
    assert frm["_links"]["contact"]["href"] == lene.a + "/people/toshm@contoso.com"
    assert lev[1]["_embedded"]["conversation"]["state"] == "Incoming"
    assert lev[1]["_embedded"]["conversation"]["activeModalities"] == ["Messaging"]
    assert (
        lev[3]["link"]
        == {"rel": "participant", "href": cl + "/participants/toshm@contoso.com", "title": "Tosh Meston"}
        and "_embedded" not in lev[3]
    )
    assert lene.s.get(cl + "/messaging").json()["state"] == "Connecting"
    got = lene.s.get(lev[0]["link"]["href"]).json()
    assert got == linv
    caller = lene.s.get(cl + "/participants/toshm@contoso.com").json()
    assert caller["name"] == "Tosh Meston" and caller["anonymous"] is False
    # R3: accept (twice → 409)
    accept = linv["_links"]["accept"]["href"]
    assert lene.s.post(accept + "?sessionContext=2687ba8f-048e-4ffa-83b3-0849c6b9004c").status_code == 204
    assert lene.s.post(accept).status_code == 409
    # R4
    lev = lene.ch.until("completed", "messagingInvitation")
    assert summary(lev)[0] == "[communication] updated messagingInvitation"
    assert "accept" not in lev[0]["_embedded"]["messagingInvitation"]["_links"]
    assert index(lev, "completed", "messagingInvitation") > index(
        lev, "updated", "messaging", state="Connected"
    )
    assert index(lev, "completed", "messagingInvitation") > index(
        lev, "updated", "conversation", state="Connected"
    )
    pm = [e for e in lev if e["link"]["rel"] == "participantMessaging"]
    assert pm[0]["in"]["rel"] == "localParticipant" and "_embedded" in pm[0]
    assert (
        pm[1]["in"]
        == {"rel": "participant", "href": cl + "/participants/toshm@contoso.com", "title": "Tosh Meston"}
        and "_embedded" not in pm[1]
    )
    lcompleted = find(lev, "completed", "messagingInvitation")
    assert (
        lcompleted["status"] == "Success"
        and "from" in lcompleted["_embedded"]["messagingInvitation"]["_embedded"]
    )
    # step 4 on Tosh's side
    tev = tosh.ch.until("completed", "messagingInvitation")
    cu = find(tev, "updated", "conversation", state="Connected")["_embedded"]["conversation"]
    assert cu["activeModalities"] == ["Messaging"]
    assert cu["_links"]["localParticipant"] == {
        "href": ct + "/participants/toshm@contoso.com",
        "title": "Tosh Meston",
    }
    added = find(tev, "added", "participant")
    assert added["link"] == {
        "rel": "participant",
        "href": ct + "/participants/lenea@contoso.com",
        "title": "Lene Aaling",
    }
    assert index(tev, "added", "participant") < index(tev, "added", "participantMessaging")
    links = messaging_links(tev)
    assert links["sendMessage"]["href"] == ct + "/messaging/messages"
    assert links["setIsTyping"]["href"] == ct + "/messaging/typing"
    assert all("?" not in links[k]["href"] for k in ("sendMessage", "stopMessaging", "setIsTyping"))
    done = find(tev, "completed", "messagingInvitation")
    assert done["status"] == "Success" and "reason" not in done
    dinv = done["_embedded"]["messagingInvitation"]
    assert dinv["state"] == "Connected" and "cancel" not in dinv["_links"]
    assert dinv["operationId"] == SEED_BODY["operationId"]
    (accepted,) = dinv["_embedded"]["acceptedByParticipant"]
    assert accepted["uri"] == "sip:lenea@contoso.com"
    assert accepted["_links"]["contact"]["href"] == tosh.a + "/people/lenea@contoso.com"
    # step 5: the conversation resource
    c = tosh.s.get(ct).json()
    assert (c["state"], c["threadId"], c["subject"], c["activeModalities"]) == (
        "Connected",
        thread,
        "Task Sample",
        ["Messaging"],
    )
    assert "phoneAudio" not in c["_links"] and "audioVideo" not in c["_links"]
    parts = tosh.s.get(c["_links"]["participants"]["href"]).json()
    assert [p["href"] for p in parts["_links"]["participant"]] == [ct + "/participants/lenea@contoso.com"]
    # step 6: send "What's up?"
    r = tosh.s.post(
        links["sendMessage"]["href"] + "?OperationContext=6b6ce55c-d4b9-4303-a61f-5813ecb2d7b1",
        content=b"What's up?",
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 201 and r.headers["content-length"] == "0"
    mloc = r.headers["location"]
    assert mloc.startswith(ct + "/messaging/messages/")
    # R5: Lene reads it
    lev = lene.ch.until("completed", "message")
    msg = find(lev, "completed", "message")
    lm = msg["_embedded"]["message"]
    assert msg["status"] == "Success" and lm["direction"] == "Incoming"
    assert lm["_links"]["plainMessage"]["href"] == "data:text/plain;charset=utf-8,What%27s+up%3F"
    assert lm["_links"]["contact"]["href"] == frm["_links"]["contact"]["href"]
    assert lm["_links"]["participant"] == {
        "href": cl + "/participants/toshm@contoso.com",
        "title": "Tosh Meston",
    }
    assert "htmlMessage" not in lm["_links"]
    assert lene.s.get(msg["link"]["href"]).json() == lm
    listed = lene.s.get(cl + "/messaging/messages").json()["_links"]["message"]
    assert {"href": msg["link"]["href"]} in listed
    # step 7: Tosh learns it was delivered
    tev = tosh.ch.until("completed", "message")
    out = find(tev, "completed", "message")
    assert out["link"]["href"] == mloc and out["status"] == "Success"
    om = out["_embedded"]["message"]
    assert om["direction"] == "Outgoing" and om["operationId"] == "6b6ce55c-d4b9-4303-a61f-5813ecb2d7b1"
    assert re.match(r"^/Date\(\d+\)/$", om["timeStamp"])
    assert om["_links"]["messaging"]["href"] == ct + "/messaging" and "plainMessage" not in om["_links"]
    raw = tosh.s.get(mloc)
    assert raw.status_code == 200 and '"\\/Date(' in raw.text
    # R6: Lene types
    lmsg_links = messaging_links(lev_all(lene, cl))
    assert lene.s.post(lmsg_links["setIsTyping"]["href"]).status_code == 204
    tev = tosh.ch.until("added", "participant")
    typing = find(tev, "added", "participant")
    assert typing["in"] == {"rel": "typingParticipants", "href": ct + "/messaging/typingParticipants"}
    assert (
        tosh.s.get(ct + "/messaging/typingParticipants").json()["_links"]["participant"][0]["title"]
        == "Lene Aaling"
    )
    # R7: Lene replies; her typing ends with the message
    r = lene.s.post(
        lmsg_links["sendMessage"]["href"] + "?operationId=9c1f7d2e-0000-4000-8000-000000000001",
        content=b"Not much, you?",
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    assert r.status_code == 201
    tev = tosh.ch.until("completed", "message")
    assert index(tev, "deleted", "participant") < index(tev, "completed", "message")
    reply = find(tev, "completed", "message")["_embedded"]["message"]
    assert reply["direction"] == "Incoming" and text_of(reply) == "Not much, you?"
    assert reply["_links"]["plainMessage"]["href"] == "data:text/plain;charset=utf-8,Not+much%2C+you%3F"
    assert reply["_links"]["contact"]["href"] == tosh.a + "/people/lenea@contoso.com"
    lev = lene.ch.until("completed", "message", direction="Outgoing")
    assert find(lev, "completed", "message", direction="Outgoing")["_embedded"]["message"]["operationId"] == (
        "9c1f7d2e-0000-4000-8000-000000000001"
    )
    # step 8: Tosh stops messaging
    stop = links["stopMessaging"]["href"]
    r = tosh.s.post(stop, headers={"Content-Length": "0"})
    assert r.status_code == 204
    # step 9 / R8: both see the end, in order
    tev = tosh.ch.until("deleted", "conversation")
    assert (
        index(tev, "updated", "messaging", state="Disconnected")
        < index(tev, "updated", "conversation", state="Disconnected")
        < index(tev, "deleted", "conversation")
    )
    tm = find(tev, "updated", "messaging", state="Disconnected")
    assert set(tm["_embedded"]["messaging"]["_links"]) == {"self", "conversation"} and "reason" not in tm
    lev = lene.ch.until("deleted", "conversation")
    lm_end = find(lev, "updated", "messaging", state="Disconnected")
    assert lm_end["reason"]["code"] == "Informational" and lm_end["reason"]["subcode"] == "CallTerminated"
    assert index(lev, "updated", "messaging", state="Disconnected") < index(lev, "deleted", "conversation")
    # after the end
    assert tosh.s.get(ct).status_code == 404 and tosh.s.get(ct).json()["code"] == "NotFound"
    assert (
        tosh.s.post(
            ct + "/messaging/messages", content=b"x", headers={"Content-Type": "text/plain"}
        ).status_code
        == 404
    )
    assert tosh.s.post(stop).status_code == 404
    assert lene.s.get(cl).status_code == 404
    assert (
        tosh.s.get(tosh.a + "/communication/conversations?filter=active").json()["_links"]["conversation"]
        == []
    )
    # R9: the same threadId may start a new conversation
    assert tosh.start_messaging(threadId=thread) != loc


def lev_all(lene: Party, cl: str) -> list[dict[str, Any]]:
    """Lene's messaging links, read the way a client would after R4: GET CL/messaging."""
    body = lene.s.get(cl + "/messaging").json()
    return [
        {
            "type": "updated",
            "link": {"rel": "messaging", "href": cl + "/messaging"},
            "_embedded": {"messaging": body},
            "_sender": {"rel": "conversation", "href": cl},
        }
    ]


def test_literal_seed_path_and_query_form(tosh: Party, lene: Party) -> None:
    r = tosh.s.post(tosh.a + "/communication/startmessaging", json=SEED_BODY)
    assert r.status_code == 201
    assert r.headers["location"].startswith(tosh.a + "/communication/messagingInvitations/")
    lene.ch.until("started", "messagingInvitation")
    tosh.ch.until("updated", "messaging")
    # the `to` query form, no body at all
    r = tosh.s.post(tosh.a + "/communication/messagingInvitations?to=sip:lenea@contoso.com&subject=Q")
    assert r.status_code == 201
    ev = find(lene.ch.until("started", "messagingInvitation"), "started", "messagingInvitation")
    assert ev["_embedded"]["messagingInvitation"]["subject"] == "Q"


def test_declined(tosh: Party, lene: Party) -> None:
    tosh.start_messaging()
    lev = lene.ch.until("added", "participant")
    inv = find(lev, "started", "messagingInvitation")["_embedded"]["messagingInvitation"]
    r = lene.s.post(inv["_links"]["decline"]["href"] + "?sessionContext=x", json={"reason": "Local"})
    assert r.status_code == 204
    lev = lene.ch.until("deleted", "conversation")
    done = find(lev, "completed", "messagingInvitation")
    assert done["status"] == "Failure" and (done["reason"]["code"], done["reason"]["subcode"]) == (
        "LocalFailure",
        "Declined",
    )
    assert not any(e["link"]["rel"] == "messaging" for e in lev)
    tev = tosh.ch.until("deleted", "conversation")
    tdone = find(tev, "completed", "messagingInvitation")
    assert (tdone["status"], tdone["reason"]["code"], tdone["reason"]["subcode"]) == (
        "Failure",
        "RemoteFailure",
        "Declined",
    )
    assert tdone["_embedded"]["messagingInvitation"]["state"] == "Declined"
    assert "cancel" not in tdone["_embedded"]["messagingInvitation"]["_links"]
    assert index(tev, "completed", "messagingInvitation") < index(
        tev, "updated", "messaging", state="Disconnected"
    )
    assert lene.s.post(inv["_links"]["accept"]["href"]).status_code in (404, 409)


def test_cancel(tosh: Party, lene: Party) -> None:
    tosh.start_messaging()
    tev = tosh.ch.until("updated", "messaging")
    cancel = find(tev, "started", "messagingInvitation")["_embedded"]["messagingInvitation"]["_links"][
        "cancel"
    ]
    lene.ch.until("added", "participant")
    assert tosh.s.post(cancel["href"]).status_code == 204
    tev = tosh.ch.until("deleted", "conversation")
    done = find(tev, "completed", "messagingInvitation")
    assert (done["reason"]["code"], done["reason"]["subcode"]) == ("LocalFailure", "Canceled")
    assert done["_embedded"]["messagingInvitation"]["state"] == "Cancelled"
    lev = lene.ch.until("deleted", "conversation")
    ldone = find(lev, "completed", "messagingInvitation")
    assert (ldone["reason"]["code"], ldone["reason"]["subcode"]) == ("RemoteFailure", "Canceled")
    assert ldone["_embedded"]["messagingInvitation"]["state"] == "Cancelled"


def test_unknown_and_unreachable_targets(parties, tosh: Party) -> None:
    tosh.start_messaging(to="sip:nobody@contoso.com")
    tev = tosh.ch.until("deleted", "conversation")
    done = find(tev, "completed", "messagingInvitation")
    assert (done["status"], done["reason"]["subcode"]) == ("Failure", "DestinationNotFound")
    # a directory user with no available application (only a lurker)
    parties("sarad@contoso.com", "sara-secret", available=False)
    tosh.start_messaging(to="sip:sarad@contoso.com")
    done = find(tosh.ch.until("deleted", "conversation"), "completed", "messagingInvitation")
    assert (done["reason"]["code"], done["reason"]["subcode"]) == ("RemoteFailure", "Unreachable")
    href = tosh.s.app["_embedded"]["communication"]["_links"]["startMessaging"]["href"]
    r = tosh.s.post(href, json={"subject": "no one"})
    assert (r.status_code, r.json()["subcode"]) == (400, "ParameterValidationFailure") and "to" in r.json()[
        "parameters"
    ]
    r = tosh.s.post(href, json={"to": "sip:toshm@contoso.com"})
    assert r.status_code == 400


def test_first_message_with_the_invitation(tosh: Party, lene: Party) -> None:
    tosh.start_messaging(_links={"message": {"href": "data:text/plain;base64,SGkgTGVuZQ=="}})
    lev = lene.ch.until("added", "participant")
    inv = find(lev, "started", "messagingInvitation")["_embedded"]["messagingInvitation"]
    assert inv["_links"]["message"]["href"] == "data:text/plain;charset=utf-8,Hi+Lene"
    assert lene.s.post(inv["_links"]["accept"]["href"]).status_code == 204
    lev = lene.ch.until("completed", "message")
    assert index(lev, "completed", "messagingInvitation") < index(lev, "completed", "message")
    assert text_of(find(lev, "completed", "message")["_embedded"]["message"]) == "Hi Lene"
    tev = tosh.ch.until("completed", "messagingInvitation")
    assert not any(e["link"]["rel"] == "message" for e in tev)


def test_two_devices_answered_elsewhere(parties, tosh: Party, lene: Party) -> None:
    lene2 = parties("lenea@contoso.com", "lene-secret")
    tosh.start_messaging()
    lev = lene.ch.until("added", "participant")
    lene2.ch.until("added", "participant")
    inv = find(lev, "started", "messagingInvitation")["_embedded"]["messagingInvitation"]
    assert lene.s.post(inv["_links"]["accept"]["href"]).status_code == 204
    other = lene2.ch.until("deleted", "conversation")
    done = find(other, "completed", "messagingInvitation")
    assert (done["reason"]["code"], done["reason"]["subcode"]) == ("LocalFailure", "ConnectedElsewhere")
    tev = tosh.ch.until("completed", "messagingInvitation")
    send = messaging_links(tev)["sendMessage"]["href"]
    assert tosh.s.post(send, content=b"only one", headers={"Content-Type": "text/plain"}).status_code == 201
    assert (
        text_of(find(lene.ch.until("completed", "message"), "completed", "message")["_embedded"]["message"])
        == "only one"
    )


def test_message_bodies_round_trip_and_bad_input(tosh: Party, lene: Party) -> None:
    tev, _, _ = connect(tosh, lene)
    links = messaging_links(tev)
    send = links["sendMessage"]["href"]
    samples = [
        "Hi Tosh\r\n",
        "Ünïcødé ✓ 你好 🎉",
        "a+b=c & d%20e",
        " leading and trailing ",
        "<b>not html</b>",
    ]
    for text in samples:
        r = tosh.s.post(send, content=text.encode(), headers={"Content-Type": "text/plain; charset=utf-8"})
        assert r.status_code == 201
    got = lene.ch.collect(lambda evs: sum(e["link"]["rel"] == "message" for e in evs) >= len(samples))
    assert [text_of(e["_embedded"]["message"]) for e in got if e["link"]["rel"] == "message"] == samples
    # HTML is relayed, not interpreted
    html = "<p>Hello <script>alert(1)</script></p>"
    r = tosh.s.post(send, content=html.encode(), headers={"Content-Type": "text/html"})
    assert r.status_code == 201
    m = find(lene.ch.until("completed", "message"), "completed", "message")["_embedded"]["message"]
    assert unquote_plus(m["_links"]["htmlMessage"]["href"].split(",", 1)[1]) == html
    assert text_of(m) == "Hello alert(1)"
    # bad input
    assert tosh.s.post(send, content=b"", headers={"Content-Type": "text/plain"}).status_code == 400
    assert tosh.s.post(send, content=b"x" * 70000, headers={"Content-Type": "text/plain"}).status_code == 413
    assert tosh.s.post(send, content=b"{}", headers={"Content-Type": "application/json"}).status_code == 415
    r = tosh.s.post(send, content=b"\xff\xfe", headers={"Content-Type": "text/plain; charset=utf-8"})
    assert r.status_code == 400
    # another user's conversation looks missing
    r = lene.s.post(send, content=b"hijack", headers={"Content-Type": "text/plain"})
    assert r.status_code == 404
    conv = find(tev, "updated", "conversation", state="Connected")["link"]["href"]
    assert lene.s.get(conv).status_code == 404
    json.dumps(tev)  # the events were valid JSON all along


def test_delete_conversation_ends_it_for_both(tosh: Party, lene: Party) -> None:
    tev, _, _ = connect(tosh, lene)
    conv = find(tev, "updated", "conversation", state="Connected")["link"]["href"]
    assert tosh.s.delete(conv).status_code == 204
    tosh.ch.until("deleted", "conversation")
    lev = lene.ch.until("deleted", "conversation")
    assert find(lev, "updated", "messaging", state="Disconnected")["reason"]["subcode"] == "CallTerminated"
