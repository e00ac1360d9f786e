"""Events and event-channel pages (SPEC §8.3, §8.11).

An ``Event`` is rendered to its wire dict once, when it is enqueued: it embeds the resource as it
was at that moment, which is what the channel must replay byte for byte later.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

Json = dict[str, Any]


class Priority(IntEnum):
    LOW = 0
    MEDIUM = 1
    HIGH = 2


MERGEABLE_TYPES = frozenset({"updated"})
UNMERGEABLE_RELS = frozenset({"message"})


@dataclass(frozen=True, slots=True)
class Receipt:
    """Carried beside a message event (never on the wire): whose message to complete once the
    recipient's batch holds it (SPEC §15.3)."""

    session: str  # the communication, locked before the sender's view is touched
    conv: str  # the sender's conversation view
    n: int  # the sender's message number
    user: str  # the recipient, named in failedDeliveryParticipant if it is never fetched


@dataclass(frozen=True, slots=True)
class Event:
    sender_rel: str
    sender_href: str
    type: str
    link_rel: str
    link_href: str
    priority: Priority
    link_title: str | None = None
    embedded: Json | None = None
    in_: Json | None = None
    status: str | None = None
    reason: Json | None = None
    extra: Json = field(default_factory=dict)
    receipt: Receipt | None = None

    @property
    def merge_key(self) -> str | None:
        """Target href for events a later ``updated`` of the same target may replace (SPEC §8.6)."""
        if self.type in MERGEABLE_TYPES and self.link_rel not in UNMERGEABLE_RELS:
            return self.link_href
        return None

    def wire(self) -> Json:
        lk: Json = {"rel": self.link_rel, "href": self.link_href}
        if self.link_title is not None:
            lk["title"] = self.link_title
        out: Json = {"link": lk}
        if self.in_ is not None:
            out["in"] = self.in_
        if self.status is not None:
            out["status"] = self.status
        if self.reason is not None:
            out["reason"] = self.reason
        if self.embedded is not None:
            out["_embedded"] = {self.link_rel: self.embedded}
        out.update(self.extra)
        out["type"] = self.type
        return out


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the channel keeps it: rendered once, with what batching needs beside it."""

    position: int
    sender_rel: str
    sender_href: str
    body: Json
    priority: Priority
    enqueued_at: float
    merge_key: str | None
    receipt: Receipt | None = None


def group_by_sender(events: Iterable[StoredEvent]) -> list[Json]:
    """Consecutive events of one sender share a block; order is never changed (SPEC §8.3)."""
    blocks: list[Json] = []
    last: tuple[str, str] | None = None
    for ev in events:
        key = (ev.sender_rel, ev.sender_href)
        if key != last:
            blocks.append({"rel": ev.sender_rel, "href": ev.sender_href, "events": []})
            last = key
        blocks[-1]["events"].append(ev.body)
    return blocks


def page(self_href: str, next_href: str, events: Sequence[StoredEvent], *, resume: bool = False) -> Json:
    """One numbered P-GET response; ``resume`` adds a link equal to ``next`` (SPEC §8.9)."""
    links: Json = {"self": {"href": self_href}, "next": {"href": next_href}}
    if resume:
        links = {"self": {"href": self_href}, "resume": {"href": next_href}, "next": {"href": next_href}}
    out: Json = {"_links": links}
    if events:
        out["sender"] = group_by_sender(events)
    return out


def resync_page(href: str) -> Json:
    return {"_links": {"resync": {"href": href}}}
