"""Directory, contacts and contact lists (SPEC §12.2–§12.6).

Every directory user is visible to every other one (privacy relationships are out of scope), so
these reads only check that the caller owns the application.
"""

from __future__ import annotations

import secrets

from ..core import errors
from ..core import presence as model
from ..core.errors import UcwaError
from ..core.hal import Json
from ..core.links import AppLinks
from ..core.models import User
from ..core.resources import people as res
from ..store.interface import Tx
from . import access, avatar
from .services import Services, unit
from .users import UserError, canonical_uri

PINNED = ("pinned", "Pinned Contacts")
DEFAULT = ("default", "Other Contacts")


def target_uri(segment: str) -> str:
    """``lenea@contoso.com`` or ``sip:lenea@contoso.com`` in a path, any case."""
    return segment.strip().lower().removeprefix("sip:")


async def contact_state(tx: Tx, user_uri: str, now: float) -> res.ContactState:
    """One user's presence as others see it, from what the user published and the user's apps."""
    pub = await tx.get_presence(user_uri)
    apps = await tx.list_applications(user_uri)
    return res.ContactState(
        availability=model.availability(pub, apps, now),
        activity=model.activity(pub, apps),
        last_active=model.last_active(pub, apps),
        messaging=model.messaging(pub, apps),
    )


def photo_href(svc: Services, app_id: str, user_uri: str) -> str | None:
    """Every user has a photo (uploaded or generated initials) while photos are enabled."""
    return AppLinks(app_id).photo(user_uri) if photos_enabled(svc) else None


PHOTOS = True


def photos_enabled(svc: Services) -> bool:
    return PHOTOS


async def _user(tx: Tx, segment: str) -> User:
    user = await tx.get_user(target_uri(segment))
    if user is None:
        raise UcwaError(errors.NOT_FOUND, "No such person in the directory.")
    return user


async def get_contact(svc: Services, app_id: str, caller: str, segment: str) -> Json:
    async with unit(svc) as u:
        await access.load(u, app_id, caller)
        user = await _user(u.tx, segment)
    return res.contact(app_id, user, photo_href=photo_href(svc, app_id, user.uri))


async def get_contact_part(svc: Services, app_id: str, caller: str, segment: str, part: str) -> Json:
    """contactPresence / contactNote / contactLocation / contactSupportedModalities (SPEC §12.3)."""
    async with unit(svc) as u:
        await access.load(u, app_id, caller)
        user = await _user(u.tx, segment)
        if part == "presence":
            return res.contact_presence(app_id, user.uri, await contact_state(u.tx, user.uri, u.now))
        if part == "supportedmedia":
            return res.supported_media(app_id, user.uri, await contact_state(u.tx, user.uri, u.now))
        pub = await u.tx.get_presence(user.uri)
        if part == "note":
            return res.contact_note(app_id, user.uri, pub.note)
        return res.contact_location(app_id, user.uri, pub.location)


async def search(svc: Services, app_id: str, caller: str, query: str, limit: int, self_href: str) -> Json:
    async with unit(svc) as u:
        await access.load(u, app_id, caller)
        found, more = await u.tx.search_users(query, limit)
        groups = await u.tx.search_distribution_groups(query, limit)
    contacts = [res.contact(app_id, user, photo_href=photo_href(svc, app_id, user.uri)) for user in found]
    return res.search(app_id, self_href, contacts, more, groups)


# contact lists (SPEC §12.4, §12.5) ---------------------------------------------------------------


async def groups_of(tx: Tx, owner: str) -> list[res.Group]:
    """Pinned and default first (they always exist), then the owner's personal groups by name."""
    personal = [res.Group("user", gid, name) for gid, name in await tx.list_contact_groups(owner)]
    return [res.Group("pinned", *PINNED), res.Group("default", *DEFAULT), *personal]


async def my_contacts(
    svc: Services, app_id: str, caller: str, *, expand: bool, group_id: str | None = None
) -> Json:
    """All contacts without duplicates, or one group's members when ``group_id`` is given (a
    distribution group's too)."""
    dist = None
    async with unit(svc) as u:
        await access.load(u, app_id, caller)
        if group_id is not None:
            gid = group_id.lower()
            if (dist := await u.tx.get_distribution_group(gid)) is not None:
                entries = [(gid, m) for m in await u.tx.distribution_group_members(dist.id)]
            elif gid not in {g.id for g in await groups_of(u.tx, caller)}:
                raise UcwaError(errors.NOT_FOUND, "No such group.")
        if group_id is None or dist is None:
            entries = await u.tx.list_contacts(caller)
    members: dict[str, User] = {}
    for gid_, user in entries:
        if group_id is None or gid_ == group_id.lower():
            members.setdefault(user.uri, user)
    contacts = [
        res.contact(app_id, user, photo_href=photo_href(svc, app_id, user.uri)) for user in members.values()
    ]
    p = res.PeopleLinks(app_id)
    if group_id is None:
        return res.contact_list("myContacts", p.my_contacts(), contacts, expand=expand)
    return res.contact_list("groupContacts", p.group_contacts(group_id.lower()), contacts, expand=expand)


async def my_groups(svc: Services, app_id: str, caller: str, *, expand: bool) -> Json:
    async with unit(svc) as u:
        await access.load(u, app_id, caller)
        groups = await groups_of(u.tx, caller)
        distribution = await u.tx.member_groups(caller)
    return res.my_groups(app_id, groups, expand=expand, distribution=distribution)


async def get_group(svc: Services, app_id: str, caller: str, group_id: str) -> Json:
    async with unit(svc) as u:
        await access.load(u, app_id, caller)
        groups = await groups_of(u.tx, caller)
        dist = await u.tx.get_distribution_group(group_id.lower())
    if dist is not None:
        return res.distribution_group(app_id, dist)
    for g in groups:
        if g.id == group_id.lower():
            return res.group(app_id, g)
    raise UcwaError(errors.NOT_FOUND, "No such group.")


async def expand_group(svc: Services, app_id: str, caller: str, group_id: str) -> Json:
    """expandDistributionGroup: the group with its (flattened, enabled) members embedded."""
    async with unit(svc) as u:
        await access.load(u, app_id, caller)
        dist = await u.tx.get_distribution_group(group_id.lower())
        if dist is None:
            raise UcwaError(errors.NOT_FOUND, "No such distribution group.")
        members = await u.tx.distribution_group_members(dist.id)
    contacts = [res.contact(app_id, m, photo_href=photo_href(svc, app_id, m.uri)) for m in members]
    return res.distribution_group(app_id, dist, contacts)


# operator commands (``openucwa contact …``) -------------------------------------------------------


async def _group_id(tx: Tx, owner: str, name: str | None, *, create: bool) -> str | None:
    """The id of the owner's group called ``name`` (default group when None), created if asked."""
    if name is None or name.strip().lower() == DEFAULT[1].lower():
        return DEFAULT[0]
    if name.strip().lower() == PINNED[1].lower():
        return PINNED[0]
    for gid, gname in await tx.list_contact_groups(owner):
        if gname.lower() == name.strip().lower():
            return gid
    if not create:
        return None
    gid = secrets.token_hex(4)
    await tx.add_contact_group(owner, gid, name.strip())
    return gid


async def add_contact(svc: Services, owner: str, contact: str, group: str | None = None) -> str:
    """Adds ``contact`` to one of ``owner``'s groups; returns the group's name."""
    owner_uri, contact_uri = canonical_uri(owner), canonical_uri(contact)
    if group is not None and not group.strip():
        raise UserError("the group name must not be empty")
    async with svc.store.transaction() as tx:
        for uri in (owner_uri, contact_uri):
            if await tx.get_user(uri) is None:
                raise UserError(f"no such user: {uri}")
        if owner_uri == contact_uri:
            raise UserError("a user cannot be their own contact")
        gid = await _group_id(tx, owner_uri, group, create=True)
        assert gid is not None
        name = {g.id: g.name for g in await groups_of(tx, owner_uri)}[gid]
        if not await tx.add_contact(owner_uri, gid, contact_uri):
            raise UserError(f"{contact_uri} is already in {owner_uri}'s group {name!r}")
    return name


async def remove_contact(svc: Services, owner: str, contact: str, group: str | None = None) -> int:
    """Removes ``contact`` from one group, or from all when ``group`` is None; an emptied personal
    group stays (groups are the owner's, not the contacts')."""
    owner_uri, contact_uri = canonical_uri(owner), canonical_uri(contact)
    async with svc.store.transaction() as tx:
        if await tx.get_user(owner_uri) is None:
            raise UserError(f"no such user: {owner_uri}")
        gid = None
        if group is not None:
            gid = await _group_id(tx, owner_uri, group, create=False)
            if gid is None:
                raise UserError(f"{owner_uri} has no group {group!r}")
        removed = await tx.remove_contact(owner_uri, contact_uri, gid)
    if not removed:
        raise UserError(
            f"{contact_uri} is not a contact of {owner_uri}" + (f" in {group!r}" if group else "")
        )
    return removed


async def list_contacts(svc: Services, owner: str) -> list[tuple[str, User]]:
    """(group name, contact) for every membership, pinned and default groups first."""
    owner_uri = canonical_uri(owner)
    async with svc.store.transaction() as tx:
        if await tx.get_user(owner_uri) is None:
            raise UserError(f"no such user: {owner_uri}")
        groups = await groups_of(tx, owner_uri)
        entries = await tx.list_contacts(owner_uri)
    order = {g.id: i for i, g in enumerate(groups)}
    names = {g.id: g.name for g in groups}
    entries.sort(key=lambda e: (order.get(e[0], len(order)), e[1].name, e[1].uri))
    return [(names.get(gid, gid), user) for gid, user in entries]


# photos (SPEC §11.8) ------------------------------------------------------------------------------

PHOTO_MAX = 1024 * 1024


def _check_jpeg(data: bytes) -> None:
    """Only JPEG is served (clients expect image/jpeg); Pillow proves the file decodes."""
    if len(data) > PHOTO_MAX:
        raise ValueError(f"the photo exceeds {PHOTO_MAX} bytes")
    if not data.startswith(b"\xff\xd8\xff"):
        raise ValueError("the photo is not a JPEG file")
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "JPEG":
                raise ValueError("the photo is not a JPEG file")
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"the photo is not a valid JPEG file ({exc})") from None


async def set_photo(svc: Services, address: str, data: bytes) -> None:
    """Stores ``data`` as the user's photo; raises UserError/ValueError for operators to read."""
    import hashlib

    uri = canonical_uri(address)
    _check_jpeg(data)
    async with svc.store.transaction() as tx:
        if await tx.get_user(uri) is None:
            raise UserError(f"no such user: {uri}")
        await tx.put_photo(uri, data, "u" + hashlib.sha256(data).hexdigest()[:16])


async def get_photo(svc: Services, app_id: str, caller: str, segment: str) -> tuple[bytes, str]:
    """(JPEG, etag): the uploaded photo, else generated initials; 404 when photos are disabled."""
    if not photos_enabled(svc):
        raise UcwaError(errors.NOT_FOUND, "Photos are disabled.")
    async with unit(svc) as u:
        await access.load(u, app_id, caller)
        user = await _user(u.tx, segment)
        stored = await u.tx.get_photo(user.uri)
    if stored is not None:
        return stored
    return avatar.render(user.name), avatar.etag(user.name)
