"""Appear Offline (me/presence availability Offline): others see Offline and cannot reach the user."""

from __future__ import annotations

from typing import Any

from .people import Party
from .ucwa import find


def _contact(p: Party, query: str) -> dict[str, Any]:
    people = p.s.get(p.s.app["_embedded"]["people"]["_links"]["self"]["href"]).json()
    found = p.s.get(people["_links"]["search"]["href"], params={"query": query}).json()
    return dict(found["_embedded"]["contact"][0])


def test_appear_offline_hides_and_unreaches(tosh: Party, lene: Party) -> None:
    me = lene.s.get(lene.s.app["_embedded"]["me"]["_links"]["self"]["href"]).json()
    presence = me["_links"]["presence"]["href"]
    try:
        assert lene.s.post(presence, json={"availability": "Offline"}).status_code == 204
        assert lene.s.get(presence).json()["availability"] == "Offline"
        contact = _contact(tosh, "lenea@contoso.com")
        seen = tosh.s.get(contact["_links"]["contactPresence"]["href"]).json()
        assert seen["availability"] == "Offline" and seen["deviceType"] == "Unknown"
        media = tosh.s.get(contact["_links"]["contactSupportedModalities"]["href"]).json()
        assert media["modalities"] == []
        tosh.start_messaging()
        done = find(tosh.ch.until("deleted", "conversation"), "completed", "messagingInvitation")
        assert (done["status"], done["reason"]["subcode"]) == ("Failure", "Unreachable")
        assert lene.s.post(presence, json={"availability": "AppearOffline"}).status_code == 204
        assert lene.s.post(presence, json={"availability": "Invisible"}).status_code == 400
    finally:
        assert lene.s.post(presence).status_code == 204  # reset: computed again
    assert (
        tosh.s.get(_contact(tosh, "lenea@contoso.com")["_links"]["contactPresence"]["href"]).json()[
            "availability"
        ]
        != "Offline"
    )
    tosh.start_messaging()
    find(lene.ch.until("started", "messagingInvitation"), "started", "messagingInvitation")
