"""kill -9 in the middle of a burst of concurrent sends: after a restart on the same data, every
message the server acknowledged (201) is in the history exactly once (issue #10 item 10)."""

from __future__ import annotations

import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from .people import connect, messaging_links, party, text_of
from .ucwa import find


def test_acknowledged_messages_survive_kill_9(make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server("--no-event-aggregation")
    tosh = party(srv, "toshm@contoso.com", "tosh-secret")
    lene = party(srv, "lenea@contoso.com", "lene-secret")
    tev, _, _ = connect(tosh, lene)
    send = tosh.s.url(messaging_links(tev)["sendMessage"]["href"])
    acknowledged: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()

    def sender(worker: int) -> None:
        with httpx.Client(headers=tosh.s.headers, timeout=10) as c:
            for i in range(10_000):
                if killed.is_set():
                    return
                text = f"w{worker}-m{i}"
                try:
                    r = c.post(send, content=text.encode(), headers={"Content-Type": "text/plain"})
                except httpx.HTTPError:
                    return  # the server went away mid-request: not acknowledged
                if r.status_code == 201:
                    with lock:
                        acknowledged.append(text)
                        if len(acknowledged) >= 150 and not killed.is_set():
                            killed.set()
                            assert srv.proc is not None
                            srv.proc.send_signal(signal.SIGKILL)  # no shutdown, no flush

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(sender, range(8)))
    assert srv.proc is not None
    srv.proc.wait(10)
    srv.proc = None
    srv.start()
    conv = find(tev, "updated", "conversation", state="Connected")["link"]["href"]
    href = tosh.s.get(conv).json()["_links"]["history"]["href"]
    stored: list[str] = []
    page = tosh.s.get(href + "?limit=200").json()
    while True:
        stored += [text_of(m) for m in page["_embedded"]["message"]]
        if "next" not in page["_links"]:
            break
        page = tosh.s.get(page["_links"]["next"]["href"]).json()
    assert len(acknowledged) >= 150
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {sorted(missing)[:5]}"
    assert len(stored) == len(set(stored)), "a message was stored twice"
    for p in (tosh, lene):
        p.s.delete(p.a)
