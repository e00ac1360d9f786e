"""people, contact and a contact's presence, note, location and media (SPEC §12.1–§12.3, §12.6).

Renderers only: they take records and the values core.presence computed, and decide nothing. A
contact's href comes from ``AppLinks.contact`` so it is the same one invitations and messages use
(clients match people by href, SPEC §12.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..hal import Json, Link, json_date, link, resource
from ..links import AppLinks
from ..models import DistributionGroup, User


@dataclass(frozen=True, slots=True)
class ContactState:
    """What a watcher may know of a user's presence at one moment (computed by core.presence)."""

    availability: str
    activity: str | None
    last_active: float | None
    messaging: bool  # at least one available application with Messaging


# Links on the people hub whose operations are implemented (SPEC §3.7: a link never answers 404).
FEATURES: tuple[str, ...] = (
    "search",
    "myContacts",
    "myGroups",
    "presenceSubscriptions",
    "subscribedContacts",
    "presenceSubscriptionMemberships",
)


def people(app_id: str, *, features: Sequence[str] = FEATURES) -> Json:
    """The people hub (SPEC §12.1); ``features`` names the links whose operations work."""
    a = PeopleLinks(app_id)
    known = {
        "search": a.search(),
        "myContacts": a.my_contacts(),
        "myGroups": a.my_groups(),
        "presenceSubscriptions": a.subscriptions(),
        "subscribedContacts": a.subscribed_contacts(),
        "presenceSubscriptionMemberships": a.memberships(),
    }
    links: dict[str, Link | list[Link] | None] = {k: link(v) for k, v in known.items() if k in features}
    return resource("people", AppLinks(app_id).people(), links=links)


@dataclass(frozen=True, slots=True)
class PeopleLinks:
    """Hrefs under ``A/people`` (kept beside the renderers that use them; contact hrefs come from
    ``AppLinks.contact`` so they stay identical everywhere)."""

    app_id: str

    @property
    def base(self) -> str:
        return AppLinks(self.app_id).people()

    def contact_part(self, user: str, part: str) -> str:
        return f"{AppLinks(self.app_id).contact(user)}/{part}"

    def search(self) -> str:
        return f"{self.base}/search"

    def my_contacts(self) -> str:
        return f"{self.base}/contacts"

    def group_contacts(self, gid: str) -> str:
        return f"{self.base}/contacts?groupId={gid}"

    def my_groups(self) -> str:
        return f"{self.base}/groups"

    def group(self, gid: str) -> str:
        return f"{self.base}/groups/{gid}"

    def expand_group(self, gid: str) -> str:
        return f"{self.base}/groups/{gid}/expand"

    def subscriptions(self) -> str:
        return f"{self.base}/presenceSubscriptions"

    def subscribe_group(self, gid: str) -> str:
        return f"{self.base}/presenceSubscriptions?groupId={gid}"

    def subscription(self, sid: str) -> str:
        return f"{self.base}/presenceSubscriptions/{sid}"

    def subscribed_contacts(self) -> str:
        return f"{self.base}/subscribedContacts"

    def memberships(self, sid: str | None = None) -> str:
        base = f"{self.base}/presenceSubscriptionMemberships"
        return base if sid is None else f"{base}?presenceSubscriptionId={sid}"

    def membership(self, sid: str, user: str) -> str:
        return f"{self.base}/presenceSubscriptionMemberships/{sid},{user}"


def contact(app_id: str, user: User, *, photo_href: str | None = None) -> Json:
    """Only configured properties appear; ``contactPhoto`` only when photos are served."""
    a = AppLinks(app_id)
    p = PeopleLinks(app_id)
    props = {
        "uri": f"sip:{user.uri}",
        "name": user.name,
        "type": "User",
        "sourceNetwork": "SameEnterprise",
        "emailAddresses": [user.email] if user.email else None,
        "title": user.title,
        "department": user.department,
        "company": user.company,
        "office": user.office,
        "workPhoneNumber": user.work_phone,
    }
    links: dict[str, Link | list[Link] | None] = {
        "contactPhoto": link(photo_href) if photo_href else None,
        "contactPresence": link(p.contact_part(user.uri, "presence")),
        "contactLocation": link(p.contact_part(user.uri, "location")),
        "contactNote": link(p.contact_part(user.uri, "note")),
        "contactSupportedModalities": link(p.contact_part(user.uri, "supportedMedia")),
    }
    return resource("contact", a.contact(user.uri), props, links)


def contact_presence(app_id: str, user_uri: str, state: ContactState) -> Json:
    """``deviceType`` is Unknown when Offline, else Web (SPEC §12.3 choice)."""
    offline = state.availability == "Offline"
    props = {
        "availability": state.availability,
        "activity": state.activity,
        "deviceType": "Unknown" if offline else "Web",
        "lastActive": json_date(int(state.last_active * 1000)) if state.last_active is not None else None,
    }
    return resource("contactPresence", PeopleLinks(app_id).contact_part(user_uri, "presence"), props)


def contact_note(app_id: str, user_uri: str, message: str | None) -> Json:
    props = {"message": message or None, "type": "Personal"}
    return resource("contactNote", PeopleLinks(app_id).contact_part(user_uri, "note"), props)


def contact_location(app_id: str, user_uri: str, value: str | None) -> Json:
    props = {"location": value or None}
    return resource("contactLocation", PeopleLinks(app_id).contact_part(user_uri, "location"), props)


def supported_media(app_id: str, user_uri: str, state: ContactState) -> Json:
    props = {"modalities": ["Messaging"] if state.messaging else []}
    href = PeopleLinks(app_id).contact_part(user_uri, "supportedMedia")
    return resource("contactSupportedModalities", href, props)


def search(
    app_id: str,
    self_href: str,
    contacts: Sequence[Json],
    more: bool,
    groups: Sequence[DistributionGroup] = (),
) -> Json:
    embedded: Json = {"contact": list(contacts)}
    if groups:
        embedded["distributionGroup"] = [distribution_group(app_id, g) for g in groups]
    return resource("search", self_href, {"moreResultsAvailable": more}, embedded=embedded)


GROUP_RELS = {"pinned": "pinnedGroup", "default": "defaultGroup", "user": "group"}


@dataclass(frozen=True, slots=True)
class Group:
    """One of a user's contact groups: the implicit pinned and default ones, or a personal one."""

    kind: str  # "pinned", "default" or "user"
    id: str
    name: str

    @property
    def rel(self) -> str:
        return GROUP_RELS[self.kind]


def group(app_id: str, g: Group, *, features: Sequence[str] = FEATURES) -> Json:
    p = PeopleLinks(app_id)
    links: dict[str, Link | list[Link] | None] = {"groupContacts": link(p.group_contacts(g.id))}
    if "presenceSubscriptions" in features:
        links["subscribeToGroupPresence"] = link(p.subscribe_group(g.id))
    return resource(g.rel, p.group(g.id), {"id": g.id, "name": g.name}, links)


def distribution_group(app_id: str, g: DistributionGroup, contacts: Sequence[Json] | None = None) -> Json:
    """A directory group (read-only); ``contacts`` embeds its members (expandDistributionGroup)."""
    p = PeopleLinks(app_id)
    props: Json = {"id": g.id, "name": g.name}
    if g.uri:
        props["uri"] = f"sip:{g.uri}"
    links: dict[str, Link | list[Link] | None] = {
        "expandDistributionGroup": link(p.expand_group(g.id)),
        "groupContacts": link(p.group_contacts(g.id)),
    }
    embedded = None if contacts is None else {"contact": list(contacts)}
    return resource("distributionGroup", p.group(g.id), props, links, embedded=embedded)


def my_groups(
    app_id: str, groups: Sequence[Group], *, expand: bool, distribution: Sequence[DistributionGroup] = ()
) -> Json:
    """Pinned and default are single, personal groups a list (SPEC §12.5); ``expand=false`` links."""
    p = PeopleLinks(app_id)
    single = {g.rel: g for g in groups if g.kind != "user"}
    personal = [g for g in groups if g.kind == "user"]
    if not expand:
        links: dict[str, Link | list[Link] | None] = {rel: link(p.group(g.id)) for rel, g in single.items()}
        links["group"] = [link(p.group(g.id)) for g in personal]
        links["distributionGroup"] = [link(p.group(g.id)) for g in distribution]
        return resource("myGroups", p.my_groups(), links=links)
    embedded: Json = {rel: group(app_id, g) for rel, g in single.items()}
    embedded["group"] = [group(app_id, g) for g in personal]
    embedded["distributionGroup"] = [distribution_group(app_id, g) for g in distribution]
    return resource("myGroups", p.my_groups(), embedded=embedded)


def contact_list(rel: str, self_href: str, contacts: Sequence[Json], *, expand: bool) -> Json:
    """myContacts or groupContacts (SPEC §12.4): embedded contacts, or links to them."""
    if not expand:
        links: dict[str, Link | list[Link] | None] = {
            "contact": [link(c["_links"]["self"]["href"]) for c in contacts]
        }
        return resource(rel, self_href, links=links)
    return resource(rel, self_href, embedded={"contact": list(contacts)})


def subscription(app_id: str, sid: str) -> Json:
    p = PeopleLinks(app_id)
    links: dict[str, Link | list[Link] | None] = {
        "memberships": link(p.memberships(sid)),
        "addToPresenceSubscription": link(p.memberships(sid)),
    }
    return resource("presenceSubscription", p.subscription(sid), {"id": sid}, links)


def subscriptions(app_id: str, sids: Sequence[str]) -> Json:
    p = PeopleLinks(app_id)
    embedded = {"presenceSubscription": [subscription(app_id, s) for s in sids]}
    return resource("presenceSubscriptions", p.subscriptions(), embedded=embedded)


def membership(app_id: str, sid: str, user_uri: str) -> Json:
    p = PeopleLinks(app_id)
    links: dict[str, Link | list[Link] | None] = {
        "contact": link(AppLinks(app_id).contact(user_uri)),
        "presenceSubscription": link(p.subscription(sid)),
    }
    return resource("presenceSubscriptionMembership", p.membership(sid, user_uri), links=links)


def memberships(app_id: str, self_href: str, pairs: Sequence[tuple[str, str]]) -> Json:
    embedded = {"presenceSubscriptionMembership": [membership(app_id, s, u) for s, u in pairs]}
    return resource("presenceSubscriptionMemberships", self_href, embedded=embedded)


def subscribed_contacts(app_id: str, user_uris: Sequence[str]) -> Json:
    a = AppLinks(app_id)
    links: dict[str, Link | list[Link] | None] = {"contact": [link(a.contact(u)) for u in user_uris]}
    return resource("subscribedContacts", PeopleLinks(app_id).subscribed_contacts(), links=links)
