"""Reading the JSON and the XML representation into one comparable shape, independently of the
server's renderer (tests/server/test_xml.py, test_xml_input.py), and writing XML input."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import httpx

from .conftest import AppSession

NS = "http://schemas.microsoft.com/rtc/2012/03/ucwa"
Q = "{" + NS + "}"
XML = "application/vnd.microsoft.com.ucwa+xml"
JSON = "application/json"


def _value_from_json(value: Any) -> Any:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return [_value_from_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _value_from_json(v) for k, v in value.items()}
    return str(value)


def _value_from_xml(text: str) -> str:
    """ISO 8601 back to the JSON date, independently of the renderer."""
    if len(text) >= 20 and text[4] == "-" and text[10] == "T" and text.endswith("Z"):
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return f"/Date({round((when - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)})/"
    return text


def _links_from_json(links: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    out = []
    for rel, value in links.items():
        if rel != "self":
            for lk in value if isinstance(value, list) else [value]:
                out.append((rel, lk["href"], lk.get("title")))
    return out


def resource_from_json(res: dict[str, Any], rel: str) -> dict[str, Any]:
    embedded = []
    for name, value in res.get("_embedded", {}).items():
        embedded += [resource_from_json(r, name) for r in (value if isinstance(value, list) else [value])]
    return {
        "rel": rel,
        "type": res["rel"],
        "href": res["_links"]["self"]["href"],
        "links": _links_from_json(res["_links"]),
        "props": {k: _value_from_json(v) for k, v in res.items() if k not in ("_links", "_embedded", "rel")},
        "embedded": embedded,
    }


def resource_from_xml(el: ET.Element) -> dict[str, Any]:
    assert el.tag == Q + "resource", el.tag
    props: dict[str, Any] = {}
    links, embedded = [], []
    for child in el:
        if child.tag == Q + "property":
            props[child.attrib["name"]] = _value_from_xml(child.text or "")
        elif child.tag == Q + "propertyList":
            props[child.attrib["name"]] = [_value_from_xml(i.text or "") for i in child]
        elif child.tag == Q + "link":
            links.append((child.attrib["rel"], child.attrib["href"], child.get("title")))
        else:
            embedded.append(resource_from_xml(child))
    rel = el.attrib["rel"]
    return {
        "rel": rel,
        "type": props.pop("rel", rel),
        "href": el.attrib["href"],
        "links": links,
        "props": props,
        "embedded": embedded,
    }


def page_from_json(page: dict[str, Any]) -> dict[str, Any]:
    senders = []
    for block in page.get("sender", []):
        events = []
        for ev in block["events"]:
            lk = ev["link"]
            embedded = [resource_from_json(r, name) for name, r in ev.get("_embedded", {}).items()]
            events.append(
                {
                    "type": ev["type"],
                    "link": (lk["rel"], lk["href"], lk.get("title")),
                    "status": ev.get("status"),
                    "in": ev.get("in"),
                    "reason": ev.get("reason"),
                    "embedded": embedded,
                }
            )
        senders.append((block["rel"], block["href"], events))
    self_link = page["_links"].get("self")
    return {
        "href": self_link and self_link["href"],
        "links": _links_from_json(page["_links"]),
        "senders": senders,
    }


def page_from_xml(root: ET.Element) -> dict[str, Any]:
    assert root.tag == Q + "events"
    links, senders = [], []
    for child in root:
        if child.tag == Q + "link":
            links.append((child.attrib["rel"], child.attrib["href"], child.get("title")))
            continue
        assert child.tag == Q + "sender"
        events = []
        for ev in child:
            inner = {c.tag: c for c in ev if c.tag != Q + "resource"}
            reason = inner.get(Q + "reason")
            events.append(
                {
                    "type": ev.tag.removeprefix(Q),
                    "link": (ev.attrib["rel"], ev.attrib["href"], ev.get("title")),
                    "status": ev.get("status"),
                    "in": dict(inner[Q + "in"].attrib) if Q + "in" in inner else None,
                    "reason": None if reason is None else {c.tag.removeprefix(Q): c.text for c in reason},
                    "embedded": [resource_from_xml(r) for r in ev.findall(Q + "resource")],
                }
            )
        senders.append((child.attrib["rel"], child.attrib["href"], events))
    return {"href": root.get("href"), "links": links, "senders": senders}


def error_from_xml(root: ET.Element) -> dict[str, Any]:
    assert root.tag == Q + "reason"
    out: dict[str, Any] = {}
    for child in root:
        name = child.tag.removeprefix(Q)
        if name in ("parameters", "debugInfo"):
            fields = {p.attrib["name"]: p.text for p in child}
            if fields:
                out[name] = fields
        else:
            out[name] = child.text
    return out


def xml_input(props: dict[str, Any]) -> bytes:
    root = ET.Element("input", xmlns=NS)
    for name, value in props.items():
        if isinstance(value, list):
            plist = ET.SubElement(root, "propertyList", name=name)
            for v in value:
                ET.SubElement(plist, "item").text = v
        else:
            ET.SubElement(root, "property", name=name).text = value
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


async def post_xml(s: AppSession, href: str, props: dict[str, Any]) -> httpx.Response:
    return await s.post(href, content=xml_input(props), headers={"Content-Type": XML})
