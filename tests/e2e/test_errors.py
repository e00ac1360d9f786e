"""Bad input never produces a 500: every refusal is a 4xx with a UCWA body (SPEC §19)."""

from __future__ import annotations

import uuid

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .ucwa import JSON, sign_in, token_for

APPS = "/ucwa/oauth/v1/applications"


def _ucwa_error(r: httpx.Response, status: int, code: str, subcode: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["code"] == code and body.get("subcode") == subcode and body["message"]


def test_bad_bodies(server) -> None:
    token = token_for(server.base, "toshm@contoso.com", "tosh-secret")
    h = {**JSON, "Authorization": f"Bearer {token}"}
    url = server.base + APPS
    _ucwa_error(
        httpx.post(url, headers={**h, "Content-Type": "application/json"}, content=b"{not json"),
        400,
        "BadRequest",
        "DeserializationFailure",
    )
    _ucwa_error(
        httpx.post(url, headers={**h, "Content-Type": "application/json"}, content=b"[1,2]"),
        400,
        "BadRequest",
        "DeserializationFailure",
    )
    _ucwa_error(
        httpx.post(url, headers={**h, "Content-Type": "text/csv"}, content=b"a,b"),
        415,
        "UnsupportedMediaType",
    )
    r = httpx.post(url, headers=h, json={"UserAgent": "x", "Culture": "en-US"})
    _ucwa_error(r, 400, "BadRequest", "ParameterValidationFailure")
    assert r.json()["parameters"] == {"endpointId": "Required"}
    r = httpx.post(url, headers=h, json={"UserAgent": "x" * 101, "EndpointId": "e", "Culture": "en-US"})
    _ucwa_error(r, 400, "BadRequest", "ParameterValidationFailure")
    r = httpx.post(url, headers=h, json={"UserAgent": 5, "EndpointId": "e", "Culture": "en-US"})
    _ucwa_error(r, 400, "BadRequest", "ParameterValidationFailure")
    r = httpx.post(
        url, headers={**h, "Content-Type": "application/json; charset=latin-9000"}, content=b'{"a":1}'
    )
    _ucwa_error(r, 415, "UnsupportedMediaType", None)  # a charset the server does not decode
    r = httpx.post(
        url, headers={**h, "Content-Type": "application/json; charset=utf-8"}, content=b'{"a":"\xff"}'
    )
    _ucwa_error(r, 400, "BadRequest", "DeserializationFailure")


def test_body_limit(make_server) -> None:
    srv = make_server(env={"OPENUCWA_MAX_BODY_BYTES": "2048"})
    token = token_for(srv.base, "toshm@contoso.com", "tosh-secret")
    h = {**JSON, "Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    big = b'{"UserAgent":"' + b"x" * 4000 + b'"}'
    _ucwa_error(httpx.post(srv.base + APPS, headers=h, content=big), 413, "EntityTooLarge")

    def chunks():  # no Content-Length: the limit still holds while streaming
        yield big[:1500]
        yield big[1500:]

    _ucwa_error(httpx.post(srv.base + APPS, headers=h, content=chunks()), 413, "EntityTooLarge")
    assert httpx.get(srv.base + "/", headers=JSON).status_code == 200  # and the server keeps serving


def test_unknown_routes_and_methods(server) -> None:
    s = sign_in(server.base, "toshm@contoso.com", "tosh-secret", str(uuid.uuid4()))
    _ucwa_error(s.get(s.self_href + "/no-such-thing"), 404, "NotFound")
    _ucwa_error(s.get(s.self_href + "/communication/audioVideo"), 404, "NotFound")
    _ucwa_error(httpx.get(server.base + "/nothing/here", headers=JSON), 404, "NotFound")
    r = httpx.put(s.url(s.self_href), headers=s.headers, json={})
    _ucwa_error(r, 405, "MethodNotAllowed")
    assert set(r.headers["allow"].split(", ")) == {"GET", "DELETE"}
    for method in ("HEAD", "OPTIONS", "PATCH", "TRACE"):
        r = httpx.request(method, s.url(s.self_href), headers=s.headers)
        assert r.status_code == 405, method
    _ucwa_error(
        s.get(s.self_href + "/events?ack=1&timeout=soon"), 400, "BadRequest", "ParameterValidationFailure"
    )
    _ucwa_error(
        s.get(s.self_href + "/events?ack=1&priority=-1"), 400, "BadRequest", "ParameterValidationFailure"
    )
    _ucwa_error(
        s.get(s.self_href, headers={"X-MS-RequiresMinResourceVersion": "3"}),
        404,
        "NotFound",
        "APIVersionNotSupported",
    )
    # fixed segments are case-insensitive
    assert s.get(s.self_href + "/ME").status_code == 200


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(
        ["", "/me/makeMeAvailable", "/me/presence", "/me/note", "/me/location", "/me/reportMyActivity"]
    ),
    body=st.one_of(
        st.binary(max_size=200),
        st.dictionaries(
            st.text(max_size=12),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                lambda c: st.lists(c, max_size=3),
                max_leaves=5,
            ),
            max_size=4,
        ).map(lambda d: httpx.Request("POST", "http://x", json=d).content),
    ),
    ctype=st.sampled_from(
        [
            "application/json",
            "text/plain",
            "",
            "application/json; charset=utf-16",
            "application/vnd.microsoft.com.ucwa+json",
        ]
    ),
)
def test_random_input_never_breaks_the_server(server, fuzz_session, path, body, ctype) -> None:
    s = fuzz_session
    target = s.url(s.self_href + path) if path else server.base + APPS
    r = httpx.post(target, headers={**s.headers, "Content-Type": ctype}, content=body)
    assert r.status_code < 500, (path, body, ctype, r.status_code, r.text)
    if r.status_code >= 400:
        assert "code" in r.json()
