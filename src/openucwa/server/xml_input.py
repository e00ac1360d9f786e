"""Resource input in XML (PayloadFormat.md "Input formats"): the same plain dict a JSON body gives.

``<input>`` (or a ``<resource>`` sent back for a PUT) holds ``<property name>value</property>`` and
``<propertyList name><item>…</item></propertyList>`` children; they become ``{name: "value"}`` and
``{name: ["…"]}``. ``<link rel href/>`` children become ``_links`` (startMessaging reads its first
message there, as in JSON); nested resources are ignored, as the docs say UCWA does. Every value is
text: ``core.commands`` already reads integers and lists from strings.

The parser is defusedxml's expat parser with DTDs, entities and external references refused, so
no expansion and no fetch can happen; the body limit bounds the bytes, and a tree builder that
counts bounds the depth and the number of elements before the tree is built. Every failure is a
400 with a UCWA error body.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from ..core import errors
from ..core.errors import UcwaError
from ..core.xml_wire import NAMESPACE

MAX_DEPTH = 32
MAX_ELEMENTS = 5000
_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


class _TooLarge(Exception):
    pass


class _BoundedBuilder(TreeBuilder):
    """Refuses the document as soon as it nests or grows past the limits."""

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._count = 0

    def start(self, tag: Any, attrs: dict[Any, Any], /) -> Element:
        self._depth += 1
        self._count += 1
        if self._depth > MAX_DEPTH or self._count > MAX_ELEMENTS:
            raise _TooLarge
        return super().start(tag, attrs)

    def end(self, tag: Any, /) -> Element:
        self._depth -= 1
        return super().end(tag)


def parse_input(raw: bytes, encoding: str | None = None) -> dict[str, Any]:
    """The input's properties; ``encoding`` (from Content-Type) overrides the XML declaration."""
    parser = DefusedXMLParser(
        target=_BoundedBuilder(),
        encoding=encoding,
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
    )
    try:
        parser.feed(raw)
        root = parser.close()
    except _TooLarge:
        raise UcwaError(
            errors.DESERIALIZATION_FAILURE,
            f"The XML body nests deeper than {MAX_DEPTH} or has more than {MAX_ELEMENTS} elements.",
        ) from None
    except DefusedXmlException:
        raise UcwaError(
            errors.DESERIALIZATION_FAILURE,
            "The XML body may not declare a DTD, entities or external references.",
        ) from None
    except (ParseError, ValueError, LookupError):
        raise UcwaError(errors.DESERIALIZATION_FAILURE, "The body is not well-formed XML.") from None
    return _properties(root)


def _local(tag: str) -> str | None:
    """The element's name in the UCWA namespace (or none); None for any other namespace."""
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return name if ns == NAMESPACE else None
    return tag


def _properties(root: Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    links: dict[str, dict[str, str]] = {}
    for child in root:
        kind = _local(child.tag)
        if kind == "property":
            out[_attribute(child, kind, "name")] = None if child.get(_NIL) == "true" else (child.text or "")
        elif kind == "propertyList":
            items = [item.text or "" for item in child if _local(item.tag) == "item"]
            out[_attribute(child, kind, "name")] = items
        elif kind == "link":
            links[_attribute(child, kind, "rel")] = {"href": _attribute(child, kind, "href")}
    if links:
        out["_links"] = links
    return out


def _attribute(el: Element, kind: str, attribute: str) -> str:
    value = el.get(attribute)
    if value is None:
        raise UcwaError(errors.DESERIALIZATION_FAILURE, f"An XML {kind} element has no {attribute}.")
    return value
