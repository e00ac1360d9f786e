"""People in the e2e stories: a signed-in application with its event channel, and shared steps."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from .ucwa import Channel, Session, find, sign_in

SEED_BODY = {
    "importance": "Normal",
    "sessionContext": "33dc0ef6-0570-4467-bb7e-49fcbea8e944",
    "subject": "Task Sample",
    "telemetryId": None,
    "to": "sip:lenea@contoso.com",
    "operationId": "5028e824-2268-4b14-9e59-1abad65ff393",
}
HEX32 = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class Party:
    s: Session
    ch: Channel

    @property
    def a(self) -> str:
        return self.s.self_href

    def start_messaging(self, **body: Any) -> str:
        href = self.s.app["_embedded"]["communication"]["_links"]["startMessaging"]["href"]
        r = self.s.post(href, json={**SEED_BODY, **body})
        assert r.status_code == 201, r.text
        assert r.headers["content-length"] == "0"
        return str(r.headers["location"])


def party(server, user: str, pw: str, available: bool = True) -> Party:
    s = sign_in(server.base, user, pw, str(uuid.uuid4()))
    ch = s.events()
    if available:
        s.make_me_available()
        ch.until("updated", "communication")
    return Party(s, ch)


def connect(tosh: Party, lene: Party, **body: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """Steps 1–4 / R1–R4; returns both channels' events and the invitation Location."""
    loc = tosh.start_messaging(**body)
    lev = lene.ch.until("added", "participant")
    inv = find(lev, "started", "messagingInvitation")["_embedded"]["messagingInvitation"]
    assert lene.s.post(inv["_links"]["accept"]["href"] + "?sessionContext=2687ba8f").status_code == 204
    lev += lene.ch.until("completed", "messagingInvitation")
    tev = tosh.ch.until("completed", "messagingInvitation")
    return tev, lev, loc


def messaging_links(events: list[dict[str, Any]]) -> dict[str, Any]:
    ev = find(events, "updated", "messaging", state="Connected")
    return ev["_embedded"]["messaging"]["_links"]


def text_of(message: dict[str, Any]) -> str:
    href = message["_links"]["plainMessage"]["href"]
    prefix = "data:text/plain;charset=utf-8,"
    assert href.startswith(prefix)
    return unquote_plus(href[len(prefix) :])
