"""The people side of a user: contact lists, photos, presence and presence subscriptions."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from ...core.models import Presence, PresenceSubscription, User
from ..interface import DuplicateError
from ..schema import (
    contact_groups,
    contact_members,
    photos,
    presence,
    presence_subscriptions,
    presence_watches,
)
from .base import TxBase
from .rows import user_from_row
from .statements import (
    CONTACT_GROUPS,
    CONTACTS,
    PHOTO_OF,
    PRESENCE_OF,
    PRESENCE_UPDATE,
    SUBSCRIPTION_BY_ID,
    SUBSCRIPTIONS_OF_APP,
    SUBSCRIPTIONS_OF_APP_DELETE,
    WATCHERS,
    WATCHES_OF_APP,
    WATCHES_OF_APP_DELETE,
)


class PeopleTx(TxBase):
    # contact lists -----------------------------------------------------------------------
    async def list_contact_groups(self, owner_uri: str) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in await self._run(CONTACT_GROUPS, {"b_owner": owner_uri})]

    async def add_contact_group(self, owner_uri: str, group_id: str, name: str) -> None:
        await self._insert(contact_groups, {"id": group_id, "owner_uri": owner_uri, "name": name})

    async def delete_contact_group(self, owner_uri: str, group_id: str) -> None:
        m = contact_members.c
        await self._conn.execute(
            contact_members.delete().where(m.owner_uri == owner_uri, m.group_id == group_id)
        )
        g = contact_groups.c
        await self._conn.execute(contact_groups.delete().where(g.owner_uri == owner_uri, g.id == group_id))

    async def add_contact(self, owner_uri: str, group_id: str, contact_uri: str) -> bool:
        try:
            await self._insert(
                contact_members, {"owner_uri": owner_uri, "group_id": group_id, "contact_uri": contact_uri}
            )
        except DuplicateError:
            return False
        return True

    async def remove_contact(self, owner_uri: str, contact_uri: str, group_id: str | None = None) -> int:
        m = contact_members.c
        cond = sa.and_(m.owner_uri == owner_uri, m.contact_uri == contact_uri)
        if group_id is not None:
            cond = sa.and_(cond, m.group_id == group_id)
        return (await self._conn.execute(contact_members.delete().where(cond))).rowcount

    async def list_contacts(self, owner_uri: str) -> list[tuple[str, User]]:
        """(group id, contact) pairs, ordered by contact name."""
        out = []
        for r in (await self._run(CONTACTS, {"b_owner": owner_uri})).mappings():
            values = dict(r)
            gid = values.pop("group_id")
            out.append((gid, user_from_row(values)))
        return out

    # photos ------------------------------------------------------------------------------
    async def put_photo(self, user_uri: str, data: bytes, etag: str) -> None:
        stmt = photos.update().where(photos.c.user_uri == user_uri).values(data=data, etag=etag)
        if (await self._conn.execute(stmt)).rowcount == 0:
            await self._insert(photos, {"user_uri": user_uri, "data": data, "etag": etag})

    async def delete_photo(self, user_uri: str) -> bool:
        return (await self._conn.execute(photos.delete().where(photos.c.user_uri == user_uri))).rowcount > 0

    async def get_photo(self, user_uri: str) -> tuple[bytes, str] | None:
        row = (await self._run(PHOTO_OF, {"b_user": user_uri})).first()
        return None if row is None else (bytes(row[0]), str(row[1]))

    # presence subscriptions --------------------------------------------------------------
    async def add_subscription(self, sub: PresenceSubscription) -> None:
        await self._insert(presence_subscriptions, dataclasses.asdict(sub))

    async def get_subscription(self, sub_id: str) -> PresenceSubscription | None:
        row = (await self._run(SUBSCRIPTION_BY_ID, {"b_id": sub_id})).mappings().first()
        return None if row is None else PresenceSubscription(**row)

    async def list_subscriptions(self, app_id: str) -> list[PresenceSubscription]:
        rows = (await self._run(SUBSCRIPTIONS_OF_APP, {"b_app": app_id})).mappings()
        return [PresenceSubscription(**r) for r in rows]

    async def update_subscription(self, sub_id: str, *, expires_at: float, warned: bool) -> None:
        stmt = (
            presence_subscriptions.update()
            .where(presence_subscriptions.c.id == sub_id)
            .values(expires_at=expires_at, warned=warned)
        )
        await self._conn.execute(stmt)

    async def delete_subscription(self, sub_id: str) -> None:
        await self._conn.execute(presence_watches.delete().where(presence_watches.c.sub_id == sub_id))
        await self._conn.execute(presence_subscriptions.delete().where(presence_subscriptions.c.id == sub_id))

    async def due_subscriptions(self, before: float) -> list[PresenceSubscription]:
        """Subscriptions expiring before ``before`` (the sweep decides warning or expiry)."""
        c = presence_subscriptions.c
        stmt = sa.select(presence_subscriptions).where(c.expires_at <= before).order_by(c.expires_at)
        return [PresenceSubscription(**r) for r in (await self._conn.execute(stmt)).mappings()]

    async def add_watch(self, sub_id: str, app_id: str, contact_uri: str) -> bool:
        try:
            await self._insert(
                presence_watches, {"sub_id": sub_id, "app_id": app_id, "contact_uri": contact_uri}
            )
        except DuplicateError:
            return False
        return True

    async def remove_watch(self, sub_id: str, contact_uri: str) -> bool:
        w = presence_watches.c
        stmt = presence_watches.delete().where(w.sub_id == sub_id, w.contact_uri == contact_uri)
        return (await self._conn.execute(stmt)).rowcount > 0

    async def list_watches(self, app_id: str, sub_id: str | None = None) -> list[tuple[str, str]]:
        """(subscription id, contact uri) of an application, in insertion-independent order."""
        rows = await self._run(WATCHES_OF_APP, {"b_app": app_id})
        return sorted((r[0], r[1]) for r in rows if sub_id is None or r[0] == sub_id)

    async def watchers(self, contact_uri: str) -> list[str]:
        """Ids of the applications watching this user, each once."""
        return list((await self._run(WATCHERS, {"b_contact": contact_uri})).scalars())

    async def delete_app_subscriptions(self, app_id: str) -> None:
        await self._run(WATCHES_OF_APP_DELETE, {"b_app": app_id})
        await self._run(SUBSCRIPTIONS_OF_APP_DELETE, {"b_app": app_id})

    # presence ----------------------------------------------------------------------------
    async def get_presence(self, user_uri: str) -> Presence:
        row = (await self._run(PRESENCE_OF, {"b_user": user_uri})).mappings().first()
        return Presence(user_uri) if row is None else Presence(**row)

    async def put_presence(self, value: Presence) -> None:
        values = dataclasses.asdict(value)
        changes = {k: v for k, v in values.items() if k != "user_uri"}
        if (await self._run(PRESENCE_UPDATE, {**changes, "b_user": value.user_uri})).rowcount == 0:
            await self._insert(presence, values)
