"""Directory and contact resources (SPEC §12.1–§12.3) and people search (SPEC §12.6)."""

from __future__ import annotations

from .people import Party


def test_contact_resource_and_its_parts(tosh: Party, lene: Party) -> None:
    # presence belongs to the user and outlives applications: start from the computed value
    for what in ("note", "location", "presence"):
        assert lene.s.post(lene.a + f"/me/{what}", json={}).status_code == 204
    people = tosh.s.app["_embedded"]["people"]
    assert people["_links"]["search"]["href"] == tosh.a + "/people/search"
    href = tosh.a + "/people/lenea@contoso.com"
    r = tosh.s.get(href)
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["rel"] == "contact" and c["uri"] == "sip:lenea@contoso.com" and c["name"] == "Lene Aaling"
    assert c["type"] == "User" and c["sourceNetwork"] == "SameEnterprise"
    assert c["emailAddresses"] == ["lenea@contoso.com"]
    links = c["_links"]
    assert links["self"]["href"] == href
    assert links["contactPresence"]["href"] == href + "/presence"
    assert links["contactSupportedModalities"]["href"] == href + "/supportedMedia"
    # ETag / If-None-Match
    tag = r.headers["etag"]
    assert tosh.s.get(href, headers={"If-None-Match": tag}).status_code == 304
    # the sip: form and any case name the same person
    assert tosh.s.get(tosh.a + "/people/sip:LeneA@Contoso.com").json()["_links"]["self"]["href"] == href
    # every link answers
    for name, lk in links.items():
        assert tosh.s.get(lk["href"]).status_code == 200, name
    p = tosh.s.get(links["contactPresence"]["href"]).json()
    assert p["rel"] == "contactPresence" and p["availability"] == "Online" and p["deviceType"] == "Web"
    assert p["lastActive"].startswith("/Date(")
    assert tosh.s.get(links["contactSupportedModalities"]["href"]).json()["modalities"] == ["Messaging"]
    assert lene.s.post(lene.a + "/me/note", json={"message": "Heads down"}).status_code == 204
    assert lene.s.post(lene.a + "/me/location", json={"location": "By the beach"}).status_code == 204
    assert lene.s.post(lene.a + "/me/presence", json={"availability": "Busy"}).status_code == 204
    n = tosh.s.get(links["contactNote"]["href"]).json()
    assert (n["rel"], n["message"], n["type"]) == ("contactNote", "Heads down", "Personal")
    loc = tosh.s.get(links["contactLocation"]["href"]).json()
    assert (loc["rel"], loc["location"]) == ("contactLocation", "By the beach")
    assert tosh.s.get(links["contactPresence"]["href"]).json()["availability"] == "Busy"
    for what in ("note", "location", "presence"):
        assert lene.s.post(lene.a + f"/me/{what}", json={}).status_code == 204


def test_offline_user_and_unknown_user(tosh: Party) -> None:
    # Sara has no application: Offline, no modalities, device Unknown
    base = tosh.a + "/people/sarad@contoso.com"
    p = tosh.s.get(base + "/presence").json()
    assert (p["availability"], p["deviceType"]) == ("Offline", "Unknown")
    assert tosh.s.get(base + "/supportedMedia").json()["modalities"] == []
    assert tosh.s.get(base + "/note").json()["rel"] == "contactNote"
    for href in (tosh.a + "/people/nobody@contoso.com", tosh.a + "/people/nobody@contoso.com/presence"):
        r = tosh.s.get(href)
        assert r.status_code == 404 and r.json()["code"] == "NotFound", r.text
    assert tosh.s.get(base + "/bogus").status_code == 404


def test_search_ranks_and_limits(tosh: Party) -> None:
    search = tosh.s.app["_embedded"]["people"]["_links"]["search"]["href"]
    r = tosh.s.get(search, params={"query": "sarad@contoso.com", "limit": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rel"] == "search" and body["moreResultsAvailable"] is False
    assert body["_links"]["self"]["href"] == search + "?query=sarad%40contoso.com&limit=3"
    [sara] = body["_embedded"]["contact"]
    assert sara["_links"]["self"]["href"] == tosh.a + "/people/sarad@contoso.com"
    # case-insensitive substring over names; every seeded user's domain matches
    names = [c["name"] for c in tosh.s.get(search, params={"query": "AALING"}).json()["_embedded"]["contact"]]
    assert names == ["Lene Aaling"]
    everyone = tosh.s.get(search, params={"query": "contoso"}).json()["_embedded"]["contact"]
    assert {"Lene Aaling", "Sara Davis", "Tosh Meston"} <= {c["name"] for c in everyone}
    one = tosh.s.get(search, params={"query": "contoso", "limit": 1}).json()
    assert len(one["_embedded"]["contact"]) == 1 and one["moreResultsAvailable"] is True
    # an exact uri beats a name prefix ("tosh" prefix vs exact "toshm@contoso.com")
    first = tosh.s.get(search, params={"query": "sip:toshm@contoso.com"}).json()["_embedded"]["contact"][0]
    assert first["name"] == "Tosh Meston"
    # LIKE wildcards are literal
    assert tosh.s.get(search, params={"query": "%"}).json()["_embedded"]["contact"] == []
    assert tosh.s.get(search, params={"query": "zzz-nobody"}).json()["moreResultsAvailable"] is False


def test_search_rejects_bad_input(tosh: Party) -> None:
    search = tosh.a + "/people/search"
    for params in (
        {},
        {"query": ""},
        {"query": "x" * 257},
        {"query": "a", "limit": "0"},
        {"query": "a", "limit": "101"},
        {"query": "a", "limit": "ten"},
    ):
        r = tosh.s.get(search, params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["subcode"] == "ParameterValidationFailure"
