"""Presence subscriptions and the fan-out of presence changes to watchers (SPEC §12.7, §12.8).

An application *watches* a user while one of its subscriptions includes that user. A change of a
user's presence, note, location or supported modalities is announced, in the same transaction as
the change, to every application watching the user (``notify``); events are link-only
``updated`` events in ``contact``, which the channel may merge. Subscriptions are transient: they
end with their application, on a transient-state reset, at expiry, or on DELETE.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from ..core import errors
from ..core import subscriptions as rules
from ..core.commands import AddMemberships, CreateSubscription
from ..core.errors import UcwaError
from ..core.events import Event, Priority
from ..core.hal import Json
from ..core.links import AppLinks
from ..core.models import Application, PresenceSubscription
from ..core.resources import people as res
from ..core.subscriptions import Due
from . import access
from .people import groups_of
from .services import Services, Unit, retrying, unit

log = logging.getLogger(__name__)

# What changed → (event rel, contact sub-resource) on the watcher's side.
PARTS = {
    "presence": ("contactPresence", "presence"),
    "note": ("contactNote", "note"),
    "location": ("contactLocation", "location"),
    "supportedMedia": ("contactSupportedModalities", "supportedMedia"),
}


def _people_event(app_id: str, type_: str, rel: str, href: str, in_: Json | None, **kw: Any) -> Event:
    return Event("people", AppLinks(app_id).people(), type_, rel, href, Priority.MEDIUM, in_=in_, **kw)


def _contact_events(app_id: str, user_uri: str, parts: Iterable[str]) -> list[Event]:
    p = res.PeopleLinks(app_id)
    contact = {"rel": "contact", "href": AppLinks(app_id).contact(user_uri)}
    return [
        _people_event(app_id, "updated", PARTS[part][0], p.contact_part(user_uri, PARTS[part][1]), contact)
        for part in parts
    ]


def _subscribed(app_id: str, user_uri: str, type_: str) -> Event:
    p = res.PeopleLinks(app_id)
    in_ = {"rel": "subscribedContacts", "href": p.subscribed_contacts()}
    return _people_event(app_id, type_, "contact", AppLinks(app_id).contact(user_uri), in_)


async def notify(u: Unit, user_uri: str, parts: Sequence[str]) -> None:
    """Announces a change of ``user_uri`` to every application watching that user."""
    batches = {app_id: _contact_events(app_id, user_uri, parts) for app_id in await u.tx.watchers(user_uri)}
    if batches:
        # One statement pair for all watchers: a popular user may have thousands of them.
        u.wakes.update(await u.tx.append_events_many(batches, u.now))


async def _watched(u: Unit, app_id: str) -> set[str]:
    return {c for _, c in await u.tx.list_watches(app_id)}


async def _add_members(u: Unit, app: Application, sid: str, users: Sequence[str]) -> list[str]:
    """Adds known directory users to a subscription; returns the ones newly in it, and emits the
    creation events: ``contact`` added in subscribedContacts for users the application did not
    watch yet, then (by the caller) presenceSubscription added, then contactPresence updated."""
    before = await _watched(u, app.id)
    known = [uri for uri in users if await u.tx.get_user(uri) is not None]  # unknown ones are ignored
    rules.check_limits(0, before, known)
    added = [uri for uri in known if await u.tx.add_watch(sid, app.id, uri)]
    await u.emit(app.id, [_subscribed(app.id, uri, "added") for uri in added if uri not in before])
    return added


async def _load_sub(u: Unit, app: Application, sid: str) -> PresenceSubscription:
    """Another application's (or user's) subscription answers like a missing one: 404 NotFound."""
    sub = await u.tx.get_subscription(sid.lower())
    if sub is None or sub.app_id != app.id:
        raise UcwaError(errors.NOT_FOUND, "No such presence subscription.")
    return sub


@retrying
async def create(svc: Services, app_id: str, caller: str, cmd: CreateSubscription) -> tuple[str, Json]:
    """POST presenceSubscriptions (ad hoc ``uris``, or a group's members with ``?groupId=``)."""
    minutes = cmd.minutes
    async with unit(svc) as u:
        app = await access.load(u, app_id, caller, for_update=True)
        users: list[str] = list(cmd.uris)
        if cmd.group_id is not None:
            gid = cmd.group_id
            if gid not in {g.id for g in await groups_of(u.tx, caller)}:
                raise UcwaError(errors.NOT_FOUND, "No such group.")
            users = sorted({c.uri for g, c in await u.tx.list_contacts(caller) if g == gid})
        rules.check_limits(len(await u.tx.list_subscriptions(app.id)) + 1, set(), [])
        sid = svc.random_bytes(4).hex()
        await u.tx.add_subscription(
            PresenceSubscription(sid, app.id, rules.expiry(u.now, minutes, svc.settings.subscription_minute))
        )
        added = await _add_members(u, app, sid, users)
        p = res.PeopleLinks(app.id)
        events = [_people_event(app.id, "added", "presenceSubscription", p.subscription(sid), None)]
        for uri in added:
            events += _contact_events(app.id, uri, ["presence"])
        await u.emit(app.id, events)
        return p.subscription(sid), res.subscription(app.id, sid)


async def list_all(svc: Services, app_id: str, caller: str) -> Json:
    async with unit(svc) as u:
        app = await access.load(u, app_id, caller)
        subs = await u.tx.list_subscriptions(app.id)
    return res.subscriptions(app.id, [s.id for s in subs])


async def get(svc: Services, app_id: str, caller: str, sid: str) -> Json:
    async with unit(svc) as u:
        app = await access.load(u, app_id, caller)
        sub = await _load_sub(u, app, sid)
    return res.subscription(app.id, sub.id)


@retrying
async def extend(svc: Services, app_id: str, caller: str, sid: str, minutes: int) -> Json:
    async with unit(svc) as u:
        app = await access.load(u, app_id, caller, for_update=True)
        sub = await _load_sub(u, app, sid)
        await u.tx.update_subscription(
            sub.id,
            expires_at=rules.extended(sub, u.now, minutes, svc.settings.subscription_minute),
            warned=False,
        )
    return res.subscription(app.id, sub.id)


async def _end(u: Unit, app_id: str, sub: PresenceSubscription) -> None:
    """contact deleted (for users no longer watched at all), then presenceSubscription deleted."""
    mine = [c for _, c in await u.tx.list_watches(app_id, sub.id)]
    await u.tx.delete_subscription(sub.id)
    still = await _watched(u, app_id)
    events = [_subscribed(app_id, uri, "deleted") for uri in mine if uri not in still]
    href = res.PeopleLinks(app_id).subscription(sub.id)
    events.append(_people_event(app_id, "deleted", "presenceSubscription", href, None))
    await u.emit(app_id, events)


@retrying
async def delete(svc: Services, app_id: str, caller: str, sid: str) -> None:
    async with unit(svc) as u:
        app = await access.load(u, app_id, caller, for_update=True)
        await _end(u, app.id, await _load_sub(u, app, sid))


async def end_for_application(u: Unit, app: Application) -> None:
    """Silently: the application's queued events are being discarded anyway."""
    await u.tx.delete_app_subscriptions(app.id)


# memberships ------------------------------------------------------------------------------------


async def memberships(svc: Services, app_id: str, caller: str, sid: str | None) -> Json:
    async with unit(svc) as u:
        app = await access.load(u, app_id, caller)
        if sid is not None:
            sid = (await _load_sub(u, app, sid)).id
        pairs = await u.tx.list_watches(app.id, sid)
    return res.memberships(app.id, res.PeopleLinks(app.id).memberships(sid), pairs)


@retrying
async def add_memberships(svc: Services, app_id: str, caller: str, cmd: AddMemberships) -> Json:
    """POST addToPresenceSubscription ``{"contactUris":[…]}`` → the new memberships."""
    async with unit(svc) as u:
        app = await access.load(u, app_id, caller, for_update=True)
        sub = await _load_sub(u, app, cmd.subscription)
        added = await _add_members(u, app, sub.id, list(cmd.uris))
        events: list[Event] = []
        for uri in added:
            events += _contact_events(app.id, uri, ["presence"])
        await u.emit(app.id, events)
    return res.memberships(app.id, res.PeopleLinks(app.id).memberships(sub.id), [(sub.id, x) for x in added])


def _split(key: str) -> tuple[str, str]:
    sid, comma, user = key.partition(",")
    if not comma:
        raise UcwaError(errors.NOT_FOUND, "No such membership.")
    return sid, user.strip().lower().removeprefix("sip:")


async def get_membership(svc: Services, app_id: str, caller: str, key: str) -> Json:
    sid, user = _split(key)
    async with unit(svc) as u:
        app = await access.load(u, app_id, caller)
        sub = await _load_sub(u, app, sid)
        if (sub.id, user) not in await u.tx.list_watches(app.id, sub.id):
            raise UcwaError(errors.NOT_FOUND, "No such membership.")
    return res.membership(app.id, sub.id, user)


@retrying
async def delete_membership(svc: Services, app_id: str, caller: str, key: str) -> None:
    sid, user = _split(key)
    async with unit(svc) as u:
        app = await access.load(u, app_id, caller, for_update=True)
        sub = await _load_sub(u, app, sid)
        if not await u.tx.remove_watch(sub.id, user):
            raise UcwaError(errors.NOT_FOUND, "No such membership.")
        if user not in await _watched(u, app.id):
            await u.emit(app.id, [_subscribed(app.id, user, "deleted")])


async def subscribed_contacts(svc: Services, app_id: str, caller: str) -> Json:
    async with unit(svc) as u:
        app = await access.load(u, app_id, caller)
        watched = await _watched(u, app.id)
    return res.subscribed_contacts(app.id, sorted(watched))


# expiry -----------------------------------------------------------------------------------------


async def tick(svc: Services) -> int:
    """Warns 60 s before expiry and ends expired subscriptions; returns how many were handled.
    Each subscription is re-read under its application's row lock before acting on it."""
    now = svc.clock()
    async with svc.store.transaction() as tx:
        due = await tx.due_subscriptions(now + rules.WARN_BEFORE * svc.settings.subscription_minute / 60.0)
    handled = 0
    for seen in due:
        if rules.due(seen, now, svc.settings.subscription_minute) is Due.KEEP:
            continue
        try:
            handled += await _settle(svc, seen.app_id, seen.id)
        except Exception:  # one broken subscription must not stop the others
            log.exception("presence subscription %s: expiry failed", seen.id)
    return handled


@retrying
async def _settle(svc: Services, app_id: str, sid: str) -> int:
    async with unit(svc) as u:
        await u.tx.get_application(app_id, for_update=True)
        sub = await u.tx.get_subscription(sid)
        if sub is None:
            return 0
        verdict = rules.due(sub, u.now, svc.settings.subscription_minute)
        if verdict is Due.KEEP:
            return 0
        if not sub.warned:  # a sweep that came late (a loaded node) still warns before it ends
            await u.tx.update_subscription(sub.id, expires_at=sub.expires_at, warned=True)
            href = res.PeopleLinks(app_id).subscription(sub.id)
            ev = _people_event(
                app_id,
                "updated",
                "presenceSubscription",
                href,
                None,
                embedded=res.subscription(app_id, sub.id),
            )
            await u.emit(app_id, [ev])
        if verdict is Due.EXPIRE:
            await _end(u, app_id, sub)
    return 1
