"""Presence subscriptions, watchers and the fan-out of presence changes (SPEC §12.7, §12.8)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from .people import Party, party
from .ucwa import find, matches, summary


def _subscribe(p: Party, *uris: str, duration: int = 11) -> tuple[str, dict]:
    href = p.s.app["_embedded"]["people"]["_links"]["presenceSubscriptions"]["href"]
    r = p.s.post(href, json={"duration": duration, "Uris": list(uris)})
    assert r.status_code == 201, r.text
    return r.headers["location"], r.json()


def test_subscribe_and_watch(tosh: Party, lene: Party) -> None:
    people = tosh.a + "/people"
    loc, sub = _subscribe(tosh, "sip:lenea@contoso.com", "sip:sarad@contoso.com", "sip:nobody@contoso.com")
    sid = sub["id"]
    assert loc == sub["_links"]["self"]["href"] == f"{people}/presenceSubscriptions/{sid}"
    assert sub["rel"] == "presenceSubscription"
    members_href = f"{people}/presenceSubscriptionMemberships?presenceSubscriptionId={sid}"
    assert (
        sub["_links"]["memberships"]["href"]
        == sub["_links"]["addToPresenceSubscription"]["href"]
        == members_href
    )
    evs = tosh.ch.collect(lambda e: sum(matches(x, "updated", "contactPresence") for x in e) >= 2)
    assert summary(evs)[:5] == [
        "[people] added contact",
        "[people] added contact",
        "[people] added presenceSubscription",
        "[people] updated contactPresence",
        "[people] updated contactPresence",
    ]
    added = evs[0]
    assert added["in"] == {"rel": "subscribedContacts", "href": people + "/subscribedContacts"}
    assert added["link"]["href"] == people + "/lenea@contoso.com"
    assert evs[0]["_sender"] == {"rel": "people", "href": people}
    cp = find(evs, "updated", "contactPresence")
    assert cp["in"] == {"rel": "contact", "href": people + "/lenea@contoso.com"}
    assert cp["link"]["href"] == people + "/lenea@contoso.com/presence"
    # reading
    listed = tosh.s.get(people + "/presenceSubscriptions").json()
    assert [s["id"] for s in listed["_embedded"]["presenceSubscription"]] == [sid]
    assert tosh.s.get(loc).json()["id"] == sid
    sc = tosh.s.get(people + "/subscribedContacts").json()
    assert [c["href"] for c in sc["_links"]["contact"]] == [
        people + "/lenea@contoso.com",
        people + "/sarad@contoso.com",
    ]
    ms = tosh.s.get(members_href).json()["_embedded"]["presenceSubscriptionMembership"]
    assert [m["_links"]["contact"]["href"] for m in ms] == [
        people + "/lenea@contoso.com",
        people + "/sarad@contoso.com",
    ]
    assert (
        ms[0]["_links"]["self"]["href"] == f"{people}/presenceSubscriptionMemberships/{sid},lenea@contoso.com"
    )
    assert tosh.s.get(ms[0]["_links"]["self"]["href"]).status_code == 200
    # changes of a watched user fan out
    assert lene.s.post(lene.a + "/me/presence", json={"availability": "Busy"}).status_code == 204
    ev = find(tosh.ch.until("updated", "contactPresence"), "updated", "contactPresence")
    assert ev["link"]["href"] == people + "/lenea@contoso.com/presence"
    assert tosh.s.get(ev["link"]["href"]).json()["availability"] == "Busy"
    assert lene.s.post(lene.a + "/me/note", json={"message": "out"}).status_code == 204
    find(tosh.ch.until("updated", "contactNote"), "updated", "contactNote")
    assert lene.s.post(lene.a + "/me/location", json={"location": "home"}).status_code == 204
    find(tosh.ch.until("updated", "contactLocation"), "updated", "contactLocation")
    for what in ("presence", "note", "location"):
        lene.s.post(lene.a + f"/me/{what}", json={})
    # extend (200 + resource), then delete (204) with its events
    r = tosh.s.post(loc + "?duration=12")
    assert r.status_code == 200 and r.json()["id"] == sid, r.text
    assert tosh.s.delete(loc).status_code == 204
    evs = tosh.ch.until("deleted", "presenceSubscription")
    tail = [s for s in summary(evs) if "deleted" in s]
    assert tail == [
        "[people] deleted contact",
        "[people] deleted contact",
        "[people] deleted presenceSubscription",
    ]
    assert tosh.s.get(loc).status_code == 404
    r = tosh.s.post(loc + "?duration=12")
    assert r.status_code == 404 and "subcode" not in r.json()


def test_sara_appears_online_to_her_watchers_and_offline_when_she_leaves(tosh: Party, parties) -> None:
    _subscribe(tosh, "sip:sarad@contoso.com")
    tosh.ch.until("updated", "contactPresence")
    sara = parties("sarad@contoso.com", "sara-secret")
    evs = tosh.ch.until("updated", "contactSupportedModalities")
    find(evs, "updated", "contactPresence")
    base = tosh.a + "/people/sarad@contoso.com"
    assert tosh.s.get(base + "/presence").json()["availability"] != "Offline"  # her own choice, if any
    assert sara.s.delete(sara.a).status_code == 204
    tosh.ch.until("updated", "contactPresence")
    assert tosh.s.get(base + "/presence").json()["availability"] == "Offline"


def test_memberships_and_group_subscription(tosh: Party, lene: Party) -> None:
    people = tosh.a + "/people"
    loc, sub = _subscribe(tosh, "sip:lenea@contoso.com")
    tosh.ch.until("updated", "contactPresence")
    add = sub["_links"]["addToPresenceSubscription"]["href"]
    r = tosh.s.post(add, json={"contactUris": ["sip:sarad@contoso.com"]})
    assert r.status_code == 201, r.text
    [m] = r.json()["_embedded"]["presenceSubscriptionMembership"]
    assert m["_links"]["contact"]["href"] == people + "/sarad@contoso.com"
    evs = tosh.ch.until("updated", "contactPresence")
    assert summary(evs)[-2:] == ["[people] added contact", "[people] updated contactPresence"]
    assert tosh.s.delete(m["_links"]["self"]["href"]).status_code == 204
    ev = find(tosh.ch.until("deleted", "contact"), "deleted", "contact")
    assert ev["link"]["href"] == people + "/sarad@contoso.com"
    assert tosh.s.delete(m["_links"]["self"]["href"]).status_code == 404
    # a group subscription: the default group of a user without contacts is empty but valid
    groups = tosh.s.get(people + "/groups").json()["_embedded"]
    sub_href = groups["defaultGroup"]["_links"]["subscribeToGroupPresence"]["href"]
    r = tosh.s.post(sub_href + "&duration=10")
    assert r.status_code == 201, r.text
    assert tosh.s.post(people + "/presenceSubscriptions?groupId=nope&duration=10").status_code == 404
    # all memberships of the application
    allm = tosh.s.get(people + "/presenceSubscriptionMemberships").json()
    assert [x["_links"]["contact"]["href"] for x in allm["_embedded"]["presenceSubscriptionMembership"]] == [
        people + "/lenea@contoso.com"
    ]
    # Lene cannot see Tosh's subscription
    assert lene.s.get(lene.a + "/people/presenceSubscriptions/" + sub["id"]).status_code == 404
    assert lene.s.get(loc.replace(tosh.a, lene.a)).status_code == 404


def test_bad_subscription_input(tosh: Party) -> None:
    href = tosh.a + "/people/presenceSubscriptions"
    for body in (
        {"uris": ["sip:lenea@contoso.com"]},
        {"duration": 9, "uris": ["sip:lenea@contoso.com"]},
        {"duration": 31, "uris": ["sip:lenea@contoso.com"]},
        {"duration": "x", "uris": ["sip:lenea@contoso.com"]},
        {"duration": 10},
        {"duration": 10, "uris": []},
        {"duration": 10, "uris": "sip:lenea@contoso.com"},
        {"duration": 10, "uris": [3]},
    ):
        r = tosh.s.post(href, json=body)
        assert r.status_code == 400, (body, r.text)
    loc, _ = _subscribe(tosh, "sip:lenea@contoso.com")
    assert tosh.s.post(loc, json={"duration": 40}).status_code == 400
    members = tosh.a + "/people/presenceSubscriptionMemberships"
    assert tosh.s.post(members, json={"contactUris": ["sip:lenea@contoso.com"]}).status_code == 400
    assert (
        tosh.s.post(members + "?presenceSubscriptionId=nope", json={"contactUris": ["sip:a@b.c"]}).status_code
        == 404
    )
    assert tosh.s.get(members + "/garbage").status_code == 404
    for _ in range(49):
        _subscribe(tosh, "sip:lenea@contoso.com")
    r = tosh.s.post(href, json={"duration": 10, "uris": ["sip:lenea@contoso.com"]})
    assert r.status_code == 403 and r.json()["subcode"] == "LimitExceeded", r.text


@pytest.fixture
def fast(make_isolated_server) -> Iterator[Party]:
    srv = make_isolated_server(
        "--no-event-aggregation",
        env={"OPENUCWA_SUBSCRIPTION_MINUTE": "0.2", "OPENUCWA_REAPER_INTERVAL": "0.2"},
    )
    tosh = party(srv, "toshm@contoso.com", "tosh-secret")
    yield tosh
    tosh.s.delete(tosh.a)


def test_subscription_warns_then_expires(fast: Party) -> None:
    tosh = fast
    t0 = time.monotonic()
    loc, _ = _subscribe(tosh, "sip:lenea@contoso.com", duration=10)  # 10 "minutes" = 2 s
    evs = tosh.ch.until("deleted", "presenceSubscription", within=10)
    assert time.monotonic() - t0 >= 1.8
    warn = find(evs, "updated", "presenceSubscription")
    assert warn["_embedded"]["presenceSubscription"]["_links"]["self"]["href"] == loc
    assert summary(evs)[-3:] == [
        "[people] updated presenceSubscription",
        "[people] deleted contact",
        "[people] deleted presenceSubscription",
    ]
    assert tosh.s.get(loc).status_code == 404
