"""The XML renderer against the documentation's own samples (EventChannelDetails.md,
PayloadFormat.md, ErrorsAndInformationalMessages.md) and the value rules of SPEC §3.2/§3.9."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from openucwa.core import xml_wire
from openucwa.core.hal import json_date, link, resource

NS = "{http://schemas.microsoft.com/rtc/2012/03/ucwa}"
A = "/ucwa/oauth/v1/applications/102"
MEETING = f"{A}/communication/onlineMeetingInvitations"

# EventChannelDetails.md, "JSON" and "XML" samples of the same page.
PAGE_JSON: dict[str, Any] = {
    "_links": {"self": {"href": f"{A}/events?ack=1"}, "next": {"href": f"{A}/events?ack=2"}},
    "sender": [
        {
            "rel": "communication",
            "href": f"{A}/communication",
            "events": [
                {
                    "link": {"rel": "communication", "href": f"{A}/communication"},
                    "_embedded": {
                        "communication": {
                            "56de7bbf-1081-43e6-bbf2-1cabf3224c83": "please pass this in a PUT request",
                            "supportedModalities": ["Messaging"],
                            "supportedMessageFormats": ["Plain"],
                            "_links": {
                                "self": {"href": f"{A}/communication"},
                                "conversations": {"href": f"{A}/communication/conversations?filter=active"},
                                "startMessaging": {"href": f"{A}/communication/messagingInvitations"},
                                "startOnlineMeeting": {"href": f"{MEETING}?onlineMeetingUri=adhoc"},
                                "joinOnlineMeeting": {"href": f"{A}/communication/onlineMeetingInvitations"},
                            },
                            "rel": "communication",
                            "etag": "2943169141",
                        }
                    },
                    "type": "updated",
                }
            ],
        },
        {
            "rel": "me",
            "href": f"{A}/me",
            "events": [
                {"link": {"rel": "me", "href": f"{A}/me"}, "type": "updated"},
                {"link": {"rel": "presence", "href": f"{A}/me/presence"}, "type": "added"},
                {"link": {"rel": "note", "href": f"{A}/me/note"}, "type": "added"},
                {"link": {"rel": "location", "href": f"{A}/me/location"}, "type": "added"},
            ],
        },
    ],
}
PAGE_XML = f"""<?xml version="1.0" encoding="utf-8"?>
<events href="{A}/events?ack=1" xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">
 <link rel="next" href="{A}/events?ack=2" />
 <sender rel="communication" href="{A}/communication">
 <updated rel="communication" href="{A}/communication">
 <resource rel="communication" href="{A}/communication">
 <link rel="conversations" href="{A}/communication/conversations?filter=active" />
 <link rel="startMessaging" href="{A}/communication/messagingInvitations" />
 <link rel="startOnlineMeeting" href="{A}/communication/onlineMeetingInvitations?onlineMeetingUri=adhoc" />
 <link rel="joinOnlineMeeting" href="{A}/communication/onlineMeetingInvitations" />
 <property name="56de7bbf-1081-43e6-bbf2-1cabf3224c83">please pass this in a PUT request</property>
 <propertyList name="supportedModalities">
 <item>Messaging</item>
 </propertyList>
 <propertyList name="supportedMessageFormats">
 <item>Plain</item>
 </propertyList>
 <property name="etag">2943169141</property>
 </resource>
 </updated>
 </sender>
 <sender rel="me" href="{A}/me">
 <updated rel="me" href="{A}/me" />
 <added rel="presence" href="{A}/me/presence" />
 <added rel="note" href="{A}/me/note" />
 <added rel="location" href="{A}/me/location" />
 </sender>
</events>
"""


def tree(raw: bytes | str) -> Any:
    """(tag, attributes, text, children), whitespace between elements ignored."""

    def walk(el: ET.Element) -> Any:
        return (el.tag, dict(el.attrib), (el.text or "").strip(), [walk(c) for c in el])

    return walk(ET.fromstring(raw))


def test_an_event_page_renders_as_the_documented_sample() -> None:
    out = xml_wire.events(PAGE_JSON)
    assert out.startswith(b'<?xml version="1.0" encoding="utf-8"?><events ')
    assert tree(out) == tree(PAGE_XML.encode())


def test_a_resource_renders_as_payload_format_shows() -> None:
    res = resource(
        "resource",
        "http://ucwa.lync.com/resource/1/",
        {"prop1": 1},
        embedded={"otherResource": resource("otherResource", "http://ucwa.lync.com/otherResource/1")},
    )
    expected = """<resource rel="resource" href="http://ucwa.lync.com/resource/1/"
        xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">
     <property name="prop1">1</property>
     <resource rel="otherResource" href="http://ucwa.lync.com/otherResource/1"></resource>
    </resource>"""
    assert tree(xml_wire.resource(res)) == tree(expected)


def test_an_error_renders_as_the_documented_reason() -> None:
    body = {
        "code": "Conflict",
        "subcode": "AlreadyExists",
        "message": "The requested resource already exists.",
    }
    expected = """<reason xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">
     <code>Conflict</code><subcode>AlreadyExists</subcode>
     <message>The requested resource already exists.</message><debugInfo /><parameters /></reason>"""
    assert tree(xml_wire.reason(body)) == tree(expected)
    detailed = xml_wire.reason({**body, "parameters": {"to": "Required"}, "debugInfo": {"requestId": "r1"}})
    root = ET.fromstring(detailed)
    assert root.find(f"{NS}parameters/{NS}property[@name='to']").text == "Required"  # type: ignore[union-attr]
    assert root.find(f"{NS}debugInfo/{NS}property[@name='requestId']").text == "r1"  # type: ignore[union-attr]


def test_values_links_and_embedded_relations() -> None:
    participant = resource("participant", f"{A}/p/1", {"name": "Lene"})
    res = resource(
        "message",
        f"{A}/m/1",
        {"timeStamp": json_date(1364327898968), "anonymous": False, "count": 3, "note": "a\x01b\ufffe"},
        links={"participant": [link(f"{A}/p/1", "Lene"), link(f"{A}/p/2")], "from": link(f"{A}/p/3", "Tosh")},
        embedded={"acceptedByParticipant": [participant]},
    )
    root = ET.fromstring(xml_wire.resource(res))
    props = {p.get("name"): p.text for p in root.findall(f"{NS}property")}
    assert props == {
        "timeStamp": "2013-03-26T19:58:18.968Z",
        "anonymous": "False",
        "count": "3",
        "note": "a\ufffdb\ufffd",
    }
    assert [(lk.get("rel"), lk.get("href"), lk.get("title")) for lk in root.findall(f"{NS}link")] == [
        ("participant", f"{A}/p/1", "Lene"),
        ("participant", f"{A}/p/2", None),
        ("from", f"{A}/p/3", "Tosh"),
    ]
    (inner,) = root.findall(f"{NS}resource")
    assert (inner.get("rel"), inner.get("href")) == ("acceptedByParticipant", f"{A}/p/1")
    # The embedded resource's own type survives, as in the docs' samples.
    assert inner.find(f"{NS}property[@name='rel']").text == "participant"  # type: ignore[union-attr]


def test_event_in_status_and_reason() -> None:
    page = {
        "_links": {"self": {"href": "/e?ack=3"}, "next": {"href": "/e?ack=4"}},
        "sender": [
            {
                "rel": "conversation",
                "href": "/c",
                "events": [
                    {
                        "link": {"rel": "message", "href": "/c/m/1"},
                        "in": {"rel": "conversation", "href": "/c", "title": "Hi"},
                        "status": "Failure",
                        "reason": {"code": "Gone", "subcode": "CallTerminated", "message": "Ended."},
                        "type": "completed",
                    }
                ],
            }
        ],
    }
    ev = ET.fromstring(xml_wire.events(page)).find(f"{NS}sender/{NS}completed")
    assert ev is not None and ev.get("status") == "Failure" and ev.get("rel") == "message"
    assert ev.find(f"{NS}in").attrib == {"rel": "conversation", "href": "/c", "title": "Hi"}  # type: ignore[union-attr]
    assert [c.tag for c in ev.find(f"{NS}reason")] == [f"{NS}code", f"{NS}subcode", f"{NS}message"]  # type: ignore[union-attr]


def test_a_resync_page_has_no_href() -> None:
    root = ET.fromstring(xml_wire.events({"_links": {"resync": {"href": "/e?ack=1"}}}))
    assert root.get("href") is None
    assert root.find(f"{NS}link").attrib == {"rel": "resync", "href": "/e?ack=1"}  # type: ignore[union-attr]


def test_dates_outside_the_calendar_stay_as_they_were() -> None:
    assert xml_wire.iso_date(0) == "1970-01-01T00:00:00.000Z"
    root = ET.fromstring(xml_wire.resource(resource("x", "/x", {"d": "/Date(999999999999999)/"})))
    assert root.find(f"{NS}property").text == "/Date(999999999999999)/"  # type: ignore[union-attr]
