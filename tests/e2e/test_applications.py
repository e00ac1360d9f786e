"""applications, application, me, makeMeAvailable, reportMyActivity (SPEC §7, §11.1-11.3)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from .ucwa import JSON, Session, sign_in, token_for


def _endpoint() -> str:
    return str(uuid.uuid4())


def _hrefs(resource: Any) -> list[str]:
    """Every href in a resource tree (links of embedded resources included)."""
    out: list[str] = []
    if isinstance(resource, dict):
        for k, v in resource.items():
            if k == "href" and isinstance(v, str):
                out.append(v)
            else:
                out.extend(_hrefs(v))
    elif isinstance(resource, list):
        for v in resource:
            out.extend(_hrefs(v))
    return out


def test_create_application_as_the_reference_pages_do(server) -> None:
    token = token_for(server.base, "toshm@contoso.com", "tosh-secret")
    headers = {**JSON, "Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    endpoint = _endpoint()
    # CreateAnApplication.md: capitalised names and a trailing comma
    body = ('{"UserAgent":"UCWA Samples","EndpointId":"' + endpoint + '","Culture":"en-US",}').encode()
    r = httpx.post(server.base + "/ucwa/oauth/v1/applications", headers=headers, content=body)
    assert r.status_code == 201, r.text
    app = r.json()
    a = app["_links"]["self"]["href"]
    assert r.headers["location"] == a
    assert a.startswith("/ucwa/oauth/v1/applications/")
    assert app["id"] == a.rsplit("/", 1)[1]
    assert app["rel"] == "application"
    assert app["_links"]["events"]["href"] == a + "/events?ack=1"
    assert (
        r.headers["set-cookie"].startswith("cwt_ucwa=")
        and f"path={a}/photos" in r.headers["set-cookie"].lower()
    )
    assert r.headers["etag"].strip('"') == app["etag"]
    me = app["_embedded"]["me"]
    assert me["uri"] == "sip:toshm@contoso.com" and me["name"] == "Tosh Meston"
    assert set(me["_links"]) == {"self", "makeMeAvailable", "photo"}
    comm = app["_embedded"]["communication"]
    assert comm["supportedModalities"] == []
    assert [k for k, v in comm.items() if v == "please pass this in a PUT request"]
    assert "onlineMeetings" not in app["_embedded"]
    again = httpx.post(server.base + "/ucwa/oauth/v1/applications", headers=headers, content=body)
    assert again.status_code == 200
    assert again.json()["_links"]["self"]["href"] == a
    assert "location" not in again.headers


def test_no_link_answers_404(server) -> None:
    s = sign_in(server.base, "toshm@contoso.com", "tosh-secret", _endpoint())
    s.make_me_available()
    app = s.get(s.self_href).json()
    me = s.get(app["_embedded"]["me"]["_links"]["self"]["href"]).json()
    for href in set(_hrefs(app)) | set(_hrefs(me)):
        if "/events" in href:
            continue  # a P-GET; exercised in the channel tests
        operations = ("/makeMeAvailable", "/reportMyActivity", "/messagingInvitations", "/batch")
        method = "POST" if href.endswith(operations) else "GET"
        r = httpx.request(method, s.url(href), headers=s.headers)
        assert r.status_code not in (404, 405, 500), (href, r.status_code, r.text)


def test_get_and_delete(server) -> None:
    s = sign_in(server.base, "lenea@contoso.com", "lene-secret", _endpoint())
    r = s.get(s.self_href)
    assert r.status_code == 200 and r.json()["_links"]["self"]["href"] == s.self_href
    assert s.get(s.self_href, headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    assert s.delete(s.self_href).status_code == 204
    for r in (s.get(s.self_href), s.get(s.self_href + "/me"), s.get(s.self_href + "/events?ack=1")):
        assert r.status_code == 404
        assert (r.json()["code"], r.json()["subcode"]) == ("NotFound", "ApplicationNotFound")


def test_another_users_application_looks_missing(server) -> None:
    tosh = sign_in(server.base, "toshm@contoso.com", "tosh-secret", _endpoint())
    lene_token = token_for(server.base, "lenea@contoso.com", "lene-secret")
    lene = Session(server.base, lene_token, {})
    missing = lene.get("/ucwa/oauth/v1/applications/100000000001")
    for href in (
        tosh.self_href,
        tosh.self_href + "/me",
        tosh.self_href + "/events?ack=1",
        tosh.self_href + "/communication",
    ):
        r = lene.get(href)
        assert r.status_code == missing.status_code == 404
        assert {k: v for k, v in r.json().items() if k != "debugInfo"} == {
            k: v for k, v in missing.json().items() if k != "debugInfo"
        }
    assert lene.delete(tosh.self_href).status_code == 404
    assert tosh.get(tosh.self_href).status_code == 200


def test_several_applications_each_with_their_own_channel(server) -> None:
    one = sign_in(server.base, "toshm@contoso.com", "tosh-secret", _endpoint())
    two = sign_in(server.base, "toshm@contoso.com", "tosh-secret", _endpoint())
    assert one.self_href != two.self_href
    one.make_me_available()
    page = one.events().poll()
    assert [e["link"]["rel"] for s in page["sender"] for e in s["events"]] == [
        "me",
        "presence",
        "note",
        "location",
        "communication",
    ]
    # the other application saw nothing: its first P-GET waits and times out; ask it to replay nothing
    r = two.get(two.self_href)
    assert r.json()["_embedded"]["communication"]["supportedModalities"] == []
    assert "makeMeAvailable" in r.json()["_embedded"]["me"]["_links"]


def test_make_me_available_and_report_activity(server) -> None:
    s = sign_in(server.base, "lenea@contoso.com", "lene-secret", _endpoint())
    report = s.app["_embedded"]["me"]["_links"]["self"]["href"] + "/reportMyActivity"
    r = s.post(report)
    assert (r.status_code, r.json()["subcode"]) == (409, "MakeMeAvailableRequired")
    mma = s.app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"]
    r = s.post(mma, json={"SupportedModalities": ["Messaging", "Video"]})
    assert r.status_code == 403
    s.make_me_available()
    r = s.post(mma, json={})
    assert (r.status_code, r.json()["code"], r.json()["subcode"]) == (409, "Conflict", "AlreadyExists")
    me = s.get(s.app["_embedded"]["me"]["_links"]["self"]["href"]).json()
    assert {"presence", "note", "location", "reportMyActivity"} <= set(me["_links"])
    assert "makeMeAvailable" not in me["_links"]
    # an empty body is fine whatever Content-Type a browser put on it
    r = s.post(me["_links"]["reportMyActivity"]["href"], headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert r.status_code == 204
    comm = s.get(s.app["_embedded"]["communication"]["_links"]["self"]["href"]).json()
    assert comm["supportedModalities"] == ["Messaging"]


def test_application_limit_evicts_the_least_recently_used(make_server) -> None:
    srv = make_server("--no-event-aggregation", env={"OPENUCWA_MAX_APPLICATIONS_PER_USER": "2"})
    first = sign_in(srv.base, "sarad@contoso.com", "sara-secret", _endpoint())
    second = sign_in(srv.base, "sarad@contoso.com", "sara-secret", _endpoint())
    third = sign_in(srv.base, "sarad@contoso.com", "sara-secret", _endpoint())
    r = first.get(first.self_href)
    assert (r.status_code, r.json()["subcode"]) == (410, "TooManyApplications")
    assert second.get(second.self_href).status_code == 200
    assert third.get(third.self_href).status_code == 200


def test_policies(server) -> None:
    s = sign_in(server.base, "toshm@contoso.com", "tosh-secret", _endpoint())
    body = s.get(s.app["_links"]["policies"]["href"]).json()
    assert body["rel"] == "policies" and body["htmlMessaging"] in ("Enabled", "Disabled")
