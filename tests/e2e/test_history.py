"""Conversations and messages are stored: they survive a restart and can be paged (extension)."""

from __future__ import annotations

from .people import connect, messaging_links, party, text_of
from .ucwa import find


def test_history_survives_a_restart_and_pages(make_server) -> None:
    srv = make_server("--no-event-aggregation")
    tosh = party(srv, "toshm@contoso.com", "tosh-secret")
    lene = party(srv, "lenea@contoso.com", "lene-secret")
    try:
        tev, lev, _ = connect(tosh, lene)
        send = messaging_links(tev)["sendMessage"]["href"]
        texts = [f"message {i} ✓" for i in range(7)]
        for t in texts:
            assert (
                tosh.s.post(send, content=t.encode(), headers={"Content-Type": "text/plain"}).status_code
                == 201
            )
        got = lene.ch.collect(lambda evs: sum(e["link"]["rel"] == "message" for e in evs) >= len(texts))
        assert [text_of(e["_embedded"]["message"]) for e in got if e["link"]["rel"] == "message"] == texts
        srv.restart()
        cl = find(lev, "updated", "conversation", state="Connected")["link"]["href"]
        conv = lene.s.get(cl).json()
        assert conv["state"] == "Connected"
        href = conv["_links"]["history"]["href"]
        seen: list[str] = []
        page = lene.s.get(href + "?limit=3").json()
        while True:
            seen += [text_of(m) for m in page["_embedded"]["message"]]
            assert all("plainMessage" in m["_links"] for m in page["_embedded"]["message"])
            if "next" not in page["_links"]:
                break
            page = lene.s.get(page["_links"]["next"]["href"]).json()
        assert seen == list(reversed(texts))
        ct = find(tev, "updated", "conversation", state="Connected")["link"]["href"]
        mine = tosh.s.get(tosh.s.get(ct).json()["_links"]["history"]["href"]).json()["_embedded"]["message"]
        assert [m["direction"] for m in mine] == ["Outgoing"] * len(texts)
        assert [text_of(m) for m in mine] == list(reversed(texts))
        # the channel carries on after the restart: a new message still arrives, exactly once
        assert (
            tosh.s.post(send, content=b"after restart", headers={"Content-Type": "text/plain"}).status_code
            == 201
        )
        after = lene.ch.until("completed", "message")
        assert [text_of(e["_embedded"]["message"]) for e in after if e["link"]["rel"] == "message"] == [
            "after restart"
        ]
        listed = lene.s.get(cl + "/messaging/messages").json()["_links"]["message"]
        assert len(listed) == len(texts) + 1
    finally:
        for p in (tosh, lene):
            p.s.delete(p.a)
