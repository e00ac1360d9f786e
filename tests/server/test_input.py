"""Bodies, charsets and numbers as a client may send them (findings of issue #10: a declared
charset Python knows but the web does not answered 500; integers of 2^63 and up answered 500;
fullwidth digits and ``1_000`` were taken for numbers)."""

from __future__ import annotations

import pytest

from openucwa.core import commands

from .conftest import SARA, AppSession, InProcess, InProcessFactory

SURROGATE_JSON = b'{"availability": "\\ud800"}'
UTF7_SURROGATE = b"+2AA-"


async def _connected_to_self(srv: InProcess) -> tuple[AppSession, str]:
    """Sara's application, available: enough for makeMeAvailable's and presence's bodies."""
    s = await srv.sign_in(*SARA[::2])
    assert (await s.post(s.link("me", "makeMeAvailable"), json={})).status_code == 204
    return s, (await s.get(s.link("me", "self"))).json()["_links"]["presence"]["href"]


@pytest.mark.parametrize("charset", ["unicode_escape", "utf-7", "rot13", "raw_unicode_escape", "x-unknown"])
async def test_charsets_the_web_does_not_use_are_refused(in_process: InProcessFactory, charset: str) -> None:
    async with in_process() as srv:
        s, presence = await _connected_to_self(srv)
        for body in (SURROGATE_JSON, UTF7_SURROGATE, b'{"availability": "Busy"}'):
            r = await s.post(
                presence, content=body, headers={"Content-Type": f"application/json; charset={charset}"}
            )
            assert r.status_code == 415, (charset, body, r.text)
            assert r.json()["code"] == "UnsupportedMediaType"
        token = await srv.http.post(
            "/WebTicket/oauthtoken",
            content=b"grant_type=password&username=sarad%40contoso.com&password=sara-secret",
            headers={"Content-Type": f"application/x-www-form-urlencoded; charset={charset}"},
        )
        assert token.status_code == 400 and token.json() == {"error": "invalid_request"}


@pytest.mark.parametrize("charset", ["utf-8", "UTF8", "iso-8859-1", "windows-1252", "utf-16"])
async def test_web_charsets_are_decoded(in_process: InProcessFactory, charset: str) -> None:
    async with in_process() as srv:
        s, presence = await _connected_to_self(srv)
        body = '{"availability": "Busy"}'.encode(charset.replace("UTF8", "utf-8"))
        r = await s.post(
            presence, content=body, headers={"Content-Type": f"application/json; charset={charset}"}
        )
        assert r.status_code == 204, r.text


@pytest.mark.parametrize(
    "value", [str(2**63), str(-(2**63) - 1), "9" * 40, "１２", "1_000", " 7", "7 ", "+7", "0x10", "1e3", "٣"]
)
async def test_numbers_outside_ascii_decimal_int64_are_400(in_process: InProcessFactory, value: str) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        for param in ("ack", "priority", "timeout", "low", "medium"):
            r = await s.get(s.link("events").split("?")[0], params={"ack": "1", param: value})
            assert r.status_code == 400, (param, value, r.text)
            assert r.json()["subcode"] == "ParameterValidationFailure"
        people = s.link("people", "search") if "search" in str(s.app) else None
        if people:
            r = await s.get(people, params={"query": "lene", "limit": value})
            assert r.status_code == 400, r.text


async def test_message_numbers_and_history_cursors(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        base = s.self_href + "/communication/conversations/x1/messaging"
        for n in (str(2**63), "１", "1_0"):
            r = await s.get(f"{base}/messages/{n}")
            assert r.status_code == 404, (n, r.text)
            r = await s.get(f"{base}/history", params={"before": n})
            assert r.status_code in (400, 404), (n, r.text)


def test_parse_int_takes_only_ascii_decimal_int64() -> None:
    assert commands.parse_int("123") == 123 and commands.parse_int(-5) == -5
    assert commands.parse_int(str(2**63 - 1)) == 2**63 - 1
    assert commands.parse_int(str(-(2**63))) == -(2**63)
    for bad in (str(2**63), 2**63, True, 1.5, "１２", "1_000", " 1", "", None, "-"):
        assert commands.parse_int(bad) is None, bad
