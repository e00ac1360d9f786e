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
SYNC_PASS = "directory-sync-pass"  # the coordination counter numbering the passes
LEAVERS_PAGE = 500
MEMBERS_BATCH = 1000  # group memberships per INSERT
PROBLEMS_KEPT = 100
DIRECTORY_ETAG = "d"  # the first letter of a photo's etag says where it came from
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
    return DIRECTORY_ETAG + hashlib.sha256(data).hexdigest()[:16]


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
    """(the account, "added" | "updated" | "unchanged" | "disabled"); raises AddressTaken.

    "disabled": an enabled account the directory now says is disabled (the caller revokes it).
    """
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
        if user.disabled and not existing.disabled:
            outcome = "disabled"
    fresh = outcome == "added" and person.photo is None  # nothing stored to compare or remove
    if not fresh and await _sync_photo(u, person) and outcome == "unchanged":
        outcome = "updated"
        await _announce_card(u, person.uri)
    return user, outcome


async def _sync_photo(u: Unit, person: Person) -> bool:
    """The stored photo made the directory's; whether it changed. An entry without a photo removes
    the one the directory gave before, not one an operator uploaded (``openucwa user photo``)."""
    stored = await u.tx.get_photo(person.uri)
    if person.photo is None:
        from_directory = stored is not None and stored[1].startswith(DIRECTORY_ETAG)
        return from_directory and await u.tx.delete_photo(person.uri)
    etag = photo_etag(person.photo)
    if stored is not None and stored[1] == etag:
        return False
    with contextlib.suppress(DuplicateError):  # stored meanwhile by another writer
        await u.tx.put_photo(person.uri, person.photo, etag)
    return True


@retrying
async def upsert_person(svc: Services, person: Person) -> User:
    """One person's account brought in line with their entry; raises AddressTaken."""
    async with unit(svc) as u:
        user, _ = await _upsert(u, person)
        if not user.disabled:  # seen by a pass running now, so that pass does not take them for a leaver
            await u.tx.mark_synced([user.uri], await u.tx.get_counter(SYNC_PASS))
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
    problems: list[str] = field(default_factory=list)  # the first PROBLEMS_KEPT
    more_problems: int = 0  # and how many more there were

    def problem(self, text: str) -> None:
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(text)
        else:
            self.more_problems += 1


async def _next_page(it: Iterator[T]) -> T | None:
    """The directory client blocks: each page is fetched on a worker thread."""
    return await asyncio.to_thread(next, it, None)


def _group_id(dn: str) -> str:
    return "dg" + hashlib.sha256(dn.lower().encode()).hexdigest()[:16]


def _memberships(rows: list[DistributionGroup], groups: list[Group]) -> Iterator[list[tuple[str, str, str]]]:
    """(group id, lower-cased member DN, the id that DN has if it is a group), a batch at a time:
    a page of large groups lists many members, and only the page itself need be held at once."""
    batch: list[tuple[str, str, str]] = []
    for row, g in zip(rows, groups, strict=True):
        for key in dict.fromkeys(m.lower() for m in g.members):  # one group lists a DN once
            batch.append((row.id, key, _group_id(key)))
            if len(batch) >= MEMBERS_BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


async def _people(
    svc: Services,
    directory: Directory,
    sync_pass: int,
    report: SyncReport,
    progress: Callable[[int], None] | None,
) -> None:
    """Every entry upserted and marked as seen by this pass, a page (one transaction) at a time."""
    pages = directory.people_pages()
    while (page := await _next_page(pages)) is not None:
        seen: list[str] = []
        newly_disabled: list[str] = []
        async with unit(svc) as u:
            for dn, person in page:
                if person is None:
                    report.skipped += 1
                    continue
                try:
                    user, outcome = await _upsert(u, person)
                except AddressTaken:
                    report.skipped += 1
                    report.problem(f"{dn}: {person.uri} is a local account")
                    continue
                if not person.enabled:
                    if outcome == "disabled":
                        newly_disabled.append(user.uri)
                    continue
                seen.append(user.uri)
                if outcome == "added":
                    report.added += 1
                elif outcome == "updated":  # re-enabled included
                    report.updated += 1
                else:
                    report.unchanged += 1
            await u.tx.mark_synced(seen, sync_pass)
        for uri in newly_disabled:
            await _sign_out(svc, uri, report)
        if progress is not None:
            progress(len(page))


async def _sign_out(svc: Services, uri: str, report: SyncReport) -> None:
    if await users.revoke(svc, uri, disable=True) is not None:
        report.disabled += 1
        log.info("directory sync: %s left or was disabled; signed out everywhere", uri)


async def sync(
    svc: Services, directory: Directory, progress: Callable[[int], None] | None = None
) -> SyncReport:
    """One full pass, streamed page by page, in memory bounded by the page size, not the directory's
    size: each account the pass sees is marked with its number in the store (instead of a set kept
    here), and groups are staged in the store and flattened there. Raises DirectoryUnavailable.

    People the pass did not see (left, moved out of the base, no longer matched by the filter) are
    revoked and disabled after the whole pass, so an interrupted pass never disables anyone.
    """
    report = SyncReport()
    async with svc.store.transaction() as tx:
        sync_pass = await tx.bump_counter(SYNC_PASS)
    await _people(svc, directory, sync_pass, report, progress)
    after = ""
    while True:
        async with svc.store.transaction() as tx:
            gone = await tx.unsynced_directory_users(sync_pass, after, LEAVERS_PAGE)
        if not gone:
            break
        for uri in gone:
            await _sign_out(svc, uri, report)
        after = gone[-1]
    group_pages = directory.group_pages()
    while (groups := await _next_page(group_pages)) is not None:
        rows = [DistributionGroup(_group_id(g.dn), g.dn, g.name, g.address) for g in groups]
        async with svc.store.transaction() as tx:
            await tx.stage_groups(sync_pass, rows, [])
            for batch in _memberships(rows, groups):
                await tx.stage_groups(sync_pass, [], batch)
        report.groups += len(rows)
    async with svc.store.transaction() as tx:
        await tx.publish_groups(sync_pass, directory.config.group_depth)
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
