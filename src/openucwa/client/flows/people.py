"""Presence (SPEC §11) and people (SPEC §12): one's own presence, contacts, search, subscriptions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import NotOffered
from ..models import absolute, link, with_query
from .application import ApplicationFlows, body_of, sip
from .instructions import Flow


@dataclass(frozen=True)
class Contact:
    name: str | None
    uri: str | None
    href: str
    raw: dict[str, Any]


class PeopleFlows(ApplicationFlows):
    # -- presence (SPEC §11) ----------------------------------------------------------------------

    def me_link(self, rel: str, what: str) -> Flow[str]:
        href = self.href(self.embedded("me"), rel)
        if not href:
            me = self.href(self.embedded("me"), "self")
            if me:
                r = yield from self.call("GET", me)
                if r.status_code == 200:
                    h = link(body_of(r), rel)
                    href = absolute(str(r.request.url), h) if h else None
        if not href:
            raise NotOffered(f"this server does not offer {what} (no {rel} link on me)")
        return href

    def get_presence(self) -> Flow[dict[str, Any]]:
        href = yield from self.me_link("presence", "presence")
        r = yield from self.call("GET", href)
        return dict(self.expect(r, "presence", 200) or {})

    def set_presence(self, availability: str) -> Flow[None]:
        href = yield from self.me_link("presence", "presence")
        r = yield from self.call("POST", href, json={"availability": availability})
        self.expect(r, "set presence", 200, 204)

    # -- people (SPEC §12) ------------------------------------------------------------------------

    def people_link(self, rel: str, what: str) -> Flow[str]:
        people = self.embedded("people")
        href = self.href(people, rel)
        if not href and (me := self.href(people, "self")):
            r = yield from self.call("GET", me)
            if r.status_code == 200 and (h := link(body_of(r), rel)):
                href = absolute(str(r.request.url), h)
        if not href:
            raise NotOffered(f"this server does not offer {what} (no people {rel} link)")
        return href

    def _contacts_of(self, r: httpx.Response, what: str) -> Flow[list[Contact]]:
        """Contacts embedded in a list (or, when the list holds links only, each one fetched)."""
        body = self.expect(r, what, 200) or {}
        base = str(r.request.url)
        found = (body.get("_embedded") or {}).get("contact")
        if found is None:
            refs = (body.get("_links") or {}).get("contact") or []
            found = []
            for ref in refs if isinstance(refs, list) else [refs]:
                c = yield from self.call("GET", absolute(base, ref["href"]))
                if c.status_code == 200:
                    found.append(body_of(c))
        if isinstance(found, dict):
            found = [found]
        return [Contact(c.get("name"), c.get("uri"), absolute(base, link(c, "self") or ""), c) for c in found]

    def contacts(self) -> Flow[list[Contact]]:
        href = yield from self.people_link("myContacts", "contact lists")
        r = yield from self.call("GET", href)
        return (yield from self._contacts_of(r, "contacts"))

    def search(self, query: str, limit: int = 20) -> Flow[list[Contact]]:
        href = yield from self.people_link("search", "directory search")
        r = yield from self.call("GET", with_query(href, query=query, limit=str(limit)))
        return (yield from self._contacts_of(r, "search"))

    def subscribe_presence(self, uris: list[str], duration: int = 30) -> Flow[str]:
        href = yield from self.people_link("presenceSubscriptions", "presence subscriptions")
        r = yield from self.call("POST", href, json={"duration": duration, "uris": [sip(u) for u in uris]})
        self.expect(r, "presence subscription", 200, 201)
        return (
            absolute(str(r.request.url), r.headers.get("location", "")) if r.headers.get("location") else ""
        )

    def contact_presence(self, contact: Contact) -> Flow[dict[str, Any]]:
        href = link(contact.raw, "contactPresence")
        if not href:
            raise NotOffered("this server does not offer contact presence")
        r = yield from self.call("GET", absolute(contact.href, href))
        return dict(self.expect(r, "contact presence", 200) or {})
