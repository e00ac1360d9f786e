"""XML resource input (PayloadFormat.md "Input formats"): taken wherever JSON is, validated the
same way, and parsed safely: no DTD, no entity, no external reference, bounded depth, element count
and size; every refusal a 400 with a UCWA error body, and random XML never a 5xx nor a hang."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openucwa.core.errors import UcwaError
from openucwa.server.xml_input import MAX_DEPTH, parse_input

from .conftest import SARA, InProcessFactory, connect_sara_and_lene
from .xml_shapes import JSON, XML, Q, error_from_xml, post_xml, xml_input


async def test_an_application_is_created_from_xml_input(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        body = xml_input({"UserAgent": "xml-client", "EndpointId": "e-xml", "Culture": "en-US"})
        r = await srv.http.post(
            "/ucwa/oauth/v1/applications",
            content=body,
            headers={"Authorization": s.headers["Authorization"], "Content-Type": XML, "Accept": XML},
        )
        assert r.status_code == 201, r.text
        root = ET.fromstring(r.content)
        assert root.get("rel") == "application"
        props = {p.get("name"): p.text for p in root.findall(Q + "property")}
        assert props["userAgent"] == "xml-client" and props["endpointId"] == "e-xml"


async def test_xml_input_is_validated_like_json(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        sara, _lene, _messages = await connect_sara_and_lene(srv)
        start = sara.link("communication", "startMessaging")
        as_json = await sara.post(start, json={"importance": "Normal"})
        as_xml = await post_xml(sara, start, {"importance": "Normal"})
        assert as_json.status_code == as_xml.status_code == 400
        assert as_xml.json() | {"debugInfo": None} == as_json.json() | {"debugInfo": None}
        # In Latin-1 when the Content-Type says so, whatever the declaration claims.
        note = "Caf\xe9"
        raw = (
            f'<?xml version="1.0" encoding="utf-8"?><input><property name="message">{note}</property></input>'
        )
        r = await sara.post(
            sara.self_href + "/me/note",
            content=raw.encode("latin-1"),
            headers={"Content-Type": "application/xml; charset=ISO-8859-1"},
        )
        assert r.status_code == 204, r.text
        got = (await sara.get(sara.self_href + "/me/note")).json()
        assert got["message"] == note


async def test_dangerous_xml_is_refused_with_a_ucwa_error(in_process: InProcessFactory) -> None:
    bodies = [
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        b'<input><property name="message">&lol2;</property></input>',
        b'<!DOCTYPE input SYSTEM "http://127.0.0.1:9/evil.dtd"><input/>',
        b'<!DOCTYPE input [<!ENTITY x SYSTEM "file:///etc/passwd">]><input>&x;</input>',
        b"<input>" + b"<a>" * (MAX_DEPTH + 1) + b"</a>" * (MAX_DEPTH + 1) + b"</input>",
        b"<input>" + b"<property name='a'/>" * 6000 + b"</input>",
        b"<input><property>no name</property></input>",
        b"<input><property name='a'>unterminated",
    ]
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        for accept in (JSON, XML):
            for body in bodies:
                r = await s.post(
                    s.self_href + "/me/note", content=body, headers={"Content-Type": XML, "Accept": accept}
                )
                assert r.status_code == 400, (body[:60], r.text)
                err = r.json() if accept == JSON else error_from_xml(ET.fromstring(r.content))
                assert err["code"] == "BadRequest", err
        big = b"<input>" + b" " * 2_000_000 + b"</input>"
        r = await s.post(s.self_href + "/me/note", content=big, headers={"Content-Type": XML})
        assert r.status_code == 413


# -- fuzz ------------------------------------------------------------------------------------------

NAMES = st.sampled_from(["input", "resource", "property", "propertyList", "item", "link", "x"])
ATTRS = st.sampled_from(['name="message"', 'name="to"', 'rel="message"', 'href="data:,x"', "", 'name="a"'])


@st.composite
def xml_bodies(draw: st.DrawFn) -> bytes:
    """Near-valid XML: random nesting of the input vocabulary, text, and broken or hostile bits."""

    def element(depth: int) -> str:
        tag = draw(NAMES)
        attr = draw(ATTRS)
        children = "" if depth > 3 else "".join(element(depth + 1) for _ in range(draw(st.integers(0, 3))))
        text = draw(st.text(max_size=10)).replace("<", "&lt;").replace("&", "&amp;")
        return f"<{tag} {attr}>{text}{children}</{tag}>"

    doc = element(0)
    prefix = draw(
        st.sampled_from(
            ["", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>', "<!DOCTYPE a>", "\ufeff"]
        )
    )
    raw = (prefix + doc).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(raw)))
        raw = raw[:cut] + draw(st.binary(max_size=8)) + raw[cut:]
    return raw


@settings(max_examples=400, deadline=None, database=None)
@given(raw=xml_bodies() | st.binary(max_size=200), encoding=st.sampled_from([None, "utf-8", "latin-1"]))
def test_the_xml_parser_answers_a_dict_or_a_400(raw: bytes, encoding: str | None) -> None:
    try:
        out = parse_input(raw, encoding)
    except UcwaError as e:
        assert e.status == 400
    else:
        assert isinstance(out, dict)


def test_a_route_fed_random_xml_never_answers_5xx_or_hangs(in_process: InProcessFactory) -> None:
    asyncio.run(_fuzz_route(in_process))


async def _fuzz_route(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        sara, _lene, _messages = await connect_sara_and_lene(srv)
        targets = [
            sara.self_href + "/me/note",
            sara.link("me", "makeMeAvailable"),
            sara.link("communication", "startMessaging"),
            "/ucwa/oauth/v1/applications",
        ]
        loop = asyncio.get_running_loop()

        @settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(
            raw=xml_bodies(),
            target=st.sampled_from(targets),
            ctype=st.sampled_from([XML, "application/xml; charset=utf-8", "application/xml; charset=latin1"]),
            accept=st.sampled_from([XML, JSON]),
        )
        def case(raw: bytes, target: str, ctype: str, accept: str) -> None:
            req = sara.post(target, content=raw, headers={"Content-Type": ctype, "Accept": accept})
            r = asyncio.run_coroutine_threadsafe(asyncio.wait_for(req, 10), loop).result(20)
            assert r.status_code < 500, (raw, r.text)
            if r.status_code >= 400:
                ET.fromstring(r.content) if accept == XML else r.json()

        await asyncio.to_thread(case)
        assert (await sara.get(sara.self_href)).status_code == 200
