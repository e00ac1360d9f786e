"""Application lifetime (SPEC §7.5) with the timers shortened through settings."""

from __future__ import annotations

import time
import uuid

from .ucwa import sign_in

FAST = {
    "OPENUCWA_APP_IDLE_TIMEOUT": "3",
    "OPENUCWA_TRANSIENT_STATE_TIMEOUT": "1",
    "OPENUCWA_TOMBSTONE_LIFETIME": "2",
    "OPENUCWA_REAPER_INTERVAL": "0.2",
}


def test_idle_application_expires_then_disappears(make_isolated_server) -> None:
    srv = make_isolated_server("--no-event-aggregation", env=FAST)
    s = sign_in(srv.base, "sarad@contoso.com", "sara-secret", str(uuid.uuid4()))
    time.sleep(3.6)
    r = s.get(s.self_href)
    assert (r.status_code, r.json()["code"], r.json()["subcode"]) == (
        410,
        "Gone",
        "InactiveApplicationExpired",
    )
    time.sleep(2.5)
    r = s.get(s.self_href)
    assert (r.status_code, r.json()["subcode"]) == (404, "ApplicationNotFound")


def test_transient_reset_answers_resume_and_a_pending_pget_keeps_it_alive(make_isolated_server) -> None:
    srv = make_isolated_server("--no-event-aggregation", env=FAST)
    s = sign_in(srv.base, "sarad@contoso.com", "sara-secret", str(uuid.uuid4()))
    ch = s.events()
    s.make_me_available()
    first = ch.poll()
    assert first["sender"]
    time.sleep(1.6)  # no P-GET pending for longer than the transient-state timeout
    page = ch.poll()
    links = page["_links"]
    assert "sender" not in page
    assert (
        links["resume"]["href"]
        == links["next"]["href"]
        == first["_links"]["next"]["href"].replace("ack=2", "ack=3")
    )
    # a P-GET held open keeps the application alive past the idle timeout
    import threading

    result: dict[str, int] = {}

    def hold() -> None:
        result["status"] = s.get(ch.next_href + "&timeout=180", timeout=10).status_code

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    time.sleep(4.0)
    assert s.get(s.self_href).status_code == 200
    s.delete(s.self_href)
    t.join(5)
    assert result["status"] == 404
