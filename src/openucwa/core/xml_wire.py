"""The XML representation (SPEC §3.9, PayloadFormat.md), rendered from the same HAL dicts as JSON.

Theory of operation
-------------------
Resources, error bodies and event pages are built once, as the plain dicts ``core.hal`` and
``core.events`` return; JSON is those dicts serialized, and XML is this module's rendering of the
very same dicts, so the two representations cannot drift apart. The mapping:

* a resource ``{props…, "_links": {...}, "_embedded": {...}, "rel": r}`` becomes
  ``<resource rel="r" href="<self>">``; each other link ``<link rel href [title]/>``, one element per
  entry of an array rel (XML cannot tell a one-element array from a single link, as the docs say);
  each scalar property ``<property name>value</property>``; each list ``<propertyList name>`` of
  ``<item>``; each embedded resource a nested ``<resource>`` whose ``rel`` is the embedding relation.
  When that relation differs from the embedded resource's own ``rel`` (``acceptedByParticipant``
  holds a ``participant``), the latter is kept as ``<property name="rel">``, as the docs' samples do.
* an error body becomes ``<reason>`` with ``<code>``, ``<subcode>``, ``<message>``, ``<debugInfo>``
  and ``<parameters>`` (the last two hold ``<property>`` elements, and are present even when empty,
  as in ErrorsAndInformationalMessages.md).
* an event page becomes ``<events href>`` with its links, then one ``<sender rel href>`` per block,
  whose children are named after the event type; an event's ``in`` link is an ``<in>`` element,
  its ``status`` an attribute, its ``reason`` a ``<reason>`` element, its embedded resource nested.

Values: ``True``/``False`` for booleans; ASP.NET AJAX dates (``/Date(ms)/``) as ISO 8601 in UTC.
Characters XML 1.0 cannot carry (C0 controls other than tab and line breaks, lone surrogates,
U+FFFE/U+FFFF) become U+FFFD: the document must stay well-formed whatever a user typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

NAMESPACE = "http://schemas.microsoft.com/rtc/2012/03/ucwa"
DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'
_DATE = re.compile(r"/Date\((-?[0-9]{1,15})\)/")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_REASON_ORDER = ("code", "subcode", "message")


def resource(res: Mapping[str, Any]) -> bytes:
    """A resource document; its root's ``rel`` is the resource's own."""
    return _document(_resource(res, str(res.get("rel", ""))))


def reason(body: Mapping[str, Any]) -> bytes:
    """An error document from ``UcwaError.body()`` (plus ``debugInfo``)."""
    root = _reason("reason", body)
    for name in ("debugInfo", "parameters"):
        if root.find(name) is None:
            SubElement(root, name)
    return _document(root)


def events(page: Mapping[str, Any]) -> bytes:
    """An event-channel page from the dict ``core.events.page`` (or ``resync_page``) returned."""
    links = page.get("_links", {})
    root = Element("events")
    if "self" in links:
        root.set("href", _text(links["self"]["href"]))
    _links(root, links)
    for block in page.get("sender", []):
        sender = SubElement(root, "sender", rel=_text(block["rel"]), href=_text(block["href"]))
        for ev in block["events"]:
            _event(sender, ev)
    return _document(root)


def iso_date(ms: int) -> str:
    """ISO 8601 in UTC with milliseconds, as .NET clients parse it."""
    when = _EPOCH + timedelta(milliseconds=ms)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _document(root: Element) -> bytes:
    root.set("xmlns", NAMESPACE)
    return DECLARATION + tostring(root, encoding="unicode").encode()


def _resource(res: Mapping[str, Any], rel: str) -> Element:
    el = Element("resource", rel=_text(rel))
    links = res.get("_links", {})
    if "self" in links:
        el.set("href", _text(links["self"]["href"]))
    own = res.get("rel")
    if own is not None and own != rel:
        _property(el, "rel", own)
    _links(el, links)
    for name, value in res.items():
        if name not in ("_links", "_embedded", "rel"):
            _property(el, name, value)
    for name, value in res.get("_embedded", {}).items():
        for inner in value if isinstance(value, list) else [value]:
            el.append(_resource(inner, name))
    return el


def _links(parent: Element, links: Mapping[str, Any]) -> None:
    for name, value in links.items():
        if name == "self":
            continue
        for lk in value if isinstance(value, list) else [value]:
            attrs = {"rel": _text(name), "href": _text(lk["href"])}
            if "title" in lk:
                attrs["title"] = _text(lk["title"])
            SubElement(parent, "link", attrs)


def _property(parent: Element, name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, list):
        plist = SubElement(parent, "propertyList", name=_text(name))
        for item in value:
            _fill(SubElement(plist, "item"), item)
    else:
        _fill(SubElement(parent, "property", name=_text(name)), value)


def _fill(el: Element, value: Any) -> None:
    """A value's content; a nested object (no resource has one today) as ``property`` children."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            _property(el, str(k), v)
    else:
        el.text = _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        date = _DATE.fullmatch(value)
        if date is not None:
            try:
                return iso_date(int(date.group(1)))
            except OverflowError:
                return value  # beyond datetime's years: left as it was rather than failing
        return _text(value)
    return _text(str(value))


def _text(value: Any) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def _event(sender: Element, ev: Mapping[str, Any]) -> None:
    lk = ev["link"]
    el = SubElement(sender, _text(ev["type"]), rel=_text(lk["rel"]), href=_text(lk["href"]))
    if "title" in lk:
        el.set("title", _text(lk["title"]))
    if "status" in ev:
        el.set("status", _text(ev["status"]))
    if "in" in ev:
        SubElement(el, "in", {k: _text(v) for k, v in ev["in"].items()})
    if "reason" in ev:
        el.append(_reason("reason", ev["reason"]))
    for name, value in ev.items():
        if name not in ("link", "type", "status", "in", "reason", "_embedded"):
            _property(el, name, value)
    for name, value in ev.get("_embedded", {}).items():
        for inner in value if isinstance(value, list) else [value]:
            el.append(_resource(inner, name))


def _reason(tag: str, body: Mapping[str, Any]) -> Element:
    """``code``, ``subcode``, ``message`` as elements in that order, then objects (``debugInfo``,
    ``parameters``) as elements of ``property`` children; anything else as a ``property``."""
    el = Element(tag)
    for name in _REASON_ORDER:
        if name in body:
            SubElement(el, name).text = _scalar(body[name])
    for name, value in body.items():
        if name in _REASON_ORDER:
            continue
        if name in ("debugInfo", "parameters") and isinstance(value, Mapping):
            _fill(SubElement(el, name), value)
        else:
            _property(el, name, value)
    return el
