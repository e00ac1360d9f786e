"""The company directory as the source of accounts: sign-in by bind, sync, and ``directory check``.

Directory people are accounts with ``source="ldap"`` and no usable password hash: their password
is only ever checked by the directory (a bind as them) and never stored or logged. The sync brings
new people in, rewrites changed profiles (watchers see the contact card change), and revokes the
accounts of people who left or were disabled, so they are signed out everywhere at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from ..config import Settings
from ..core.events import Event, Priority
from ..core.links import AppLinks
from ..core.models import DistributionGroup, User
from ..directory.attributes import Person
from ..directory.client import Directory, DirectoryConfig, DirectoryUnavailable, Group
from ..directory.login import Login
from ..store.interface import DuplicateError
from . import users
from .services import Services, Unit, retrying, unit

log = logging.getLogger(__name__)
NO_PASSWORD = "!directory"  # not an argon2 hash: a local check can never succeed against it
SYNC_LEASE = "directory-sync"
_NODE = uuid.uuid4().hex
T = TypeVar("T")


def open_directory(settings: Settings) -> Directory | None:
    """The configured directory, or None for local accounts only."""
    config = DirectoryConfig.from_settings(settings)
    return None if config is None else Directory(config)


def profile(person: Person) -> dict[str, object]:
    """The ``User`` fields a directory entry decides."""
    return {
        "name": person.name,
        "email": person.email,
        "title": person.title,
        "department": person.department,
        "company": person.company,
        "office": person.office,
        "work_phone": person.work_phone,
        "source": "ldap",
        "disabled": not person.enabled,
        "dn": person.dn,
        "upn": person.upn,
        "login": person.login,
    }


def photo_etag(data: bytes) -> str:
    return "d" + hashlib.sha256(data).hexdigest()[:16]


async def _announce_card(u: Unit, uri: str) -> None:
    """Applications watching this person re-read the contact card (SPEC §12.8, ``updated``)."""
    batches = {
        app_id: [
            Event(
                "people",
                AppLinks(app_id).people(),
                "updated",
                "contact",
                AppLinks(app_id).contact(uri),
                Priority.MEDIUM,
            )
        ]
        for app_id in await u.tx.watchers(uri)
    }
    if batches:
        u.wakes.update(await u.tx.append_events_many(batches, u.now))


class AddressTaken(Exception):
    """A local account already holds the address a directory entry maps to."""


async def _upsert(u: Unit, person: Person) -> tuple[User, str]:
    """(the account, "added" | "updated" | "unchanged"); raises AddressTaken."""
    existing = await u.tx.get_user(person.uri)
    if existing is not None and existing.source != "ldap":
        raise AddressTaken(person.uri)
    if existing is None:
        user = User(uri=person.uri, password_hash=NO_PASSWORD, id=uuid.uuid4().hex, **profile(person))  # type: ignore[arg-type]
        try:
            await u.tx.add_user(user)
            outcome = "added"
        except DuplicateError:  # the sync and a sign-in (or two nodes) met on a newcomer
            existing = await u.tx.get_user(person.uri)
            if existing is None or existing.source != "ldap":
                raise AddressTaken(person.uri) from None
    if existing is not None:
        user = dataclasses.replace(existing, **profile(person))  # type: ignore[arg-type]
        outcome = "unchanged" if user == existing else "updated"
        if outcome == "updated":
            await u.tx.update_user(user)
            await _announce_card(u, person.uri)
    if person.photo is not None:
        stored = await u.tx.get_photo(person.uri)
        etag = photo_etag(person.photo)
        if stored is None or stored[1] != etag:
            with contextlib.suppress(DuplicateError):  # stored meanwhile by another writer
                await u.tx.put_photo(person.uri, person.photo, etag)
            if outcome == "unchanged":
                outcome = "updated"
                await _announce_card(u, person.uri)
    return user, outcome


@retrying
async def upsert_person(svc: Services, person: Person) -> User:
    """One person's account brought in line with their entry; raises AddressTaken."""
    async with unit(svc) as u:
        user, _ = await _upsert(u, person)
    return user


async def sign_in(svc: Services, directory: Directory, login: Login, password: str) -> User | None:
    """The account a directory bind with ``password`` proves, or None; raises DirectoryUnavailable."""
    try:
        person = await directory.verify(login, password)
    except DirectoryUnavailable as exc:
        log.error("company directory unreachable, directory sign-ins answer 503 until it is back: %s", exc)
        raise
    if person is None or not person.enabled:
        return None
    try:
        user = await upsert_person(svc, person)
    except AddressTaken:
        log.warning(
            "directory entry %s maps to %s, which is a local account: not signed in", person.dn, person.uri
        )
        return None
    return None if user.disabled else user


# sync ------------------------------------------------------------------------------------------


@dataclass
class SyncReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    disabled: int = 0
    skipped: int = 0  # entries without an address, or whose address is a local account
    groups: int = 0
    problems: list[str] = field(default_factory=list)


async def _next_page(it: Iterator[T]) -> T | None:
    """The directory client blocks: each page is fetched on a worker thread."""
    return await asyncio.to_thread(next, it, None)


def _group_id(dn: str) -> str:
    return "dg" + hashlib.sha256(dn.lower().encode()).hexdigest()[:16]


def flatten(groups: list[Group], people: dict[str, str], depth: int) -> list[tuple[str, str]]:
    """(group id, user uri) for every group, through nested groups up to ``depth`` levels, cycles cut."""
    by_dn = {g.dn.lower(): g for g in groups}
    pairs: list[tuple[str, str]] = []
    for g in groups:
        found: set[str] = set()
        seen = {g.dn.lower()}
        frontier = [g]
        for _ in range(depth):
            nxt: list[Group] = []
            for grp in frontier:
                for member in grp.members:
                    key = member.lower()
                    if key in people:
                        found.add(people[key])
                    elif key in by_dn and key not in seen:
                        seen.add(key)
                        nxt.append(by_dn[key])
            if not nxt:
                break
            frontier = nxt
        pairs += [(_group_id(g.dn), uri) for uri in sorted(found)]
    return pairs


async def sync(
    svc: Services, directory: Directory, progress: Callable[[int], None] | None = None
) -> SyncReport:
    """One full pass, page by page (a page is one transaction); raises DirectoryUnavailable.

    People not returned by the user filter (left, moved out of the base, disabled in AD) are
    revoked and disabled after the whole pass, so an interrupted pass never disables anyone.
    """
    report = SyncReport()
    async with svc.store.transaction() as tx:
        before = await tx.list_user_states("ldap")
    seen: set[str] = set()
    dns: dict[str, str] = {}  # lower-case DN → uri, for group members
    pages = directory.people_pages()
    while (page := await _next_page(pages)) is not None:
        async with unit(svc) as u:
            for dn, person in page:
                if person is None:
                    report.skipped += 1
                    continue
                try:
                    user, outcome = await _upsert(u, person)
                except AddressTaken:
                    report.skipped += 1
                    report.problems.append(f"{dn}: {person.uri} is a local account")
                    continue
                if not person.enabled:
                    continue  # revoked below, with those who left
                seen.add(user.uri)
                dns[dn.lower()] = user.uri
                if outcome == "added":
                    report.added += 1
                elif outcome == "updated" or before.get(user.uri):  # re-enabled counts as updated
                    report.updated += 1
                else:
                    report.unchanged += 1
        if progress is not None:
            progress(len(page))
    for uri, disabled in before.items():
        if uri not in seen and not disabled:
            await users.revoke(svc, uri, disable=True)
            report.disabled += 1
            log.info("directory sync: %s left or was disabled; signed out everywhere", uri)
    groups: list[Group] = []
    group_pages = directory.group_pages()
    while (gpage := await _next_page(group_pages)) is not None:
        groups += gpage
    members = flatten(groups, dns, directory.config.group_depth)
    rows = [DistributionGroup(_group_id(g.dn), g.dn, g.name, g.address) for g in groups]
    async with svc.store.transaction() as tx:
        await tx.replace_distribution_groups(rows, members)
    report.groups = len(rows)
    return report


async def run(svc: Services, directory: Directory) -> None:
    """The scheduled sync: one node at a time (a lease in the database), every LDAP_SYNC_INTERVAL;
    a directory that is down is retried at the next interval (sooner after the first failure)."""
    interval = svc.settings.ldap_sync_interval
    delay = 0.0
    while True:
        await svc.clock.sleep(delay)
        delay = interval
        now = svc.clock()
        try:
            async with svc.store.transaction() as tx:
                mine = await tx.take_lease(SYNC_LEASE, _NODE, now, now + interval * 0.9)
            if not mine:
                continue
            report = await sync(svc, directory)
            log.info(
                "directory sync: %d added, %d updated, %d disabled, %d groups",
                report.added,
                report.updated,
                report.disabled,
                report.groups,
            )
        except DirectoryUnavailable as exc:
            log.error("directory sync failed, the directory is unreachable (retrying): %s", exc)
            delay = min(interval, 30.0)
            async with svc.store.transaction() as tx:  # let another node (or the retry) take over
                await tx.take_lease(SYNC_LEASE, _NODE, now, now)
        except Exception:  # a failed pass must not stop the next ones
            log.exception("directory sync failed")
