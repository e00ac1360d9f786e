"""What the company directory's sync keeps beside the accounts: distribution groups and their
members, and the coordination rows (counters, leases) that let several nodes share one sync and
one revocation epoch."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import sqlalchemy as sa

from ...core.models import DistributionGroup, User
from ..interface import DuplicateError
from ..schema import (
    coordination,
    directory_staged_groups,
    directory_staged_members,
    distribution_groups,
    distribution_members,
    users,
)
from .base import TxBase
from .rows import user_from_row
from .statements import COUNTER, MEMBER_GROUPS
from .users import like_escape


def _group_key(g: DistributionGroup) -> str:
    return "\n".join((g.name, g.uri or "")).lower()


class DirectoryTx(TxBase):
    # coordination ------------------------------------------------------------------------
    async def get_counter(self, name: str) -> int:
        value = (await self._run(COUNTER, {"b_name": name})).scalar_one_or_none()
        return int(value or 0)

    async def bump_counter(self, name: str) -> int:
        stmt = coordination.update().where(coordination.c.name == name).values(value=coordination.c.value + 1)
        if (await self._conn.execute(stmt)).rowcount == 0:
            try:
                await self._insert(coordination, {"name": name, "value": 1})
            except DuplicateError:  # another node created it meanwhile
                await self._conn.execute(stmt)
        return await self.get_counter(name)

    async def take_lease(self, name: str, owner: str, now: float, until: float) -> bool:
        c = coordination.c
        free = sa.or_(c.owner == owner, c.owner.is_(None), c.until.is_(None), c.until <= now)
        stmt = coordination.update().where(c.name == name, free).values(owner=owner, until=until)
        if (await self._conn.execute(stmt)).rowcount > 0:
            return True
        try:
            await self._insert(coordination, {"name": name, "value": 0, "owner": owner, "until": until})
        except DuplicateError:
            return False
        return True

    # the sync's bookkeeping ---------------------------------------------------------------
    async def mark_synced(self, uris: Sequence[str], sync_pass: int) -> None:
        c = users.c
        later = sa.case((c.sync_pass > sync_pass, c.sync_pass), else_=sync_pass)  # never moves back
        if uris:
            await self._conn.execute(users.update().where(c.uri.in_(list(uris))).values(sync_pass=later))

    async def unsynced_directory_users(self, sync_pass: int, after: str, limit: int) -> list[str]:
        c = users.c
        stmt = (
            sa.select(c.uri)
            .where(
                c.source == "ldap",
                c.disabled == sa.false(),
                sa.or_(c.sync_pass.is_(None), c.sync_pass < sync_pass),
                c.uri > after,
            )
            .order_by(c.uri)
            .limit(limit)
        )
        return list((await self._conn.execute(stmt)).scalars().all())

    # distribution groups -----------------------------------------------------------------
    async def stage_groups(
        self, sync_pass: int, groups: Sequence[DistributionGroup], members: Sequence[tuple[str, str, str]]
    ) -> None:
        if groups:
            rows = [
                {**dataclasses.asdict(g), "sync_pass": sync_pass, "search_key": _group_key(g)} for g in groups
            ]
            await self._conn.execute(directory_staged_groups.insert(), rows)
        if members:
            edges = [
                {"sync_pass": sync_pass, "group_id": g, "member_key": m, "child_id": c} for g, m, c in members
            ]
            await self._conn.execute(directory_staged_members.insert(), edges)

    async def publish_groups(self, sync_pass: int, depth: int) -> None:
        """Everything here is one statement over the tables, whatever the directory's size."""
        sg, sm = directory_staged_groups.c, directory_staged_members.c
        await self._conn.execute(distribution_members.delete())
        await self._conn.execute(distribution_groups.delete())
        columns = ["id", "dn", "name", "uri", "search_key"]
        staged = sa.select(*(sg[c] for c in columns)).where(sg.sync_pass == sync_pass)
        await self._conn.execute(distribution_groups.insert().from_select(columns, staged))
        people = (
            sa.select(sm.group_id, users.c.uri)
            .join(users, users.c.dn_key == sm.member_key)
            .where(sm.sync_pass == sync_pass, users.c.source == "ldap", users.c.disabled == sa.false())
            .distinct()
        )
        await self._conn.execute(distribution_members.insert().from_select(["group_id", "user_uri"], people))
        # Nested groups, one level per statement (each reads the members the previous one left).
        inner = distribution_members.alias("inner")
        known = distribution_members.alias("known")
        for _ in range(depth - 1):
            nested = (
                sa.select(sm.group_id, inner.c.user_uri)
                .join(inner, inner.c.group_id == sm.child_id)
                .where(
                    sm.sync_pass == sync_pass,
                    ~sa.exists().where(known.c.group_id == sm.group_id, known.c.user_uri == inner.c.user_uri),
                )
                .distinct()
            )
            added = await self._conn.execute(
                distribution_members.insert().from_select(["group_id", "user_uri"], nested)
            )
            if added.rowcount == 0:
                break
        await self._conn.execute(directory_staged_members.delete().where(sm.sync_pass <= sync_pass))
        await self._conn.execute(directory_staged_groups.delete().where(sg.sync_pass <= sync_pass))

    async def get_distribution_group(self, group_id: str) -> DistributionGroup | None:
        g = distribution_groups.c
        stmt = sa.select(g.id, g.dn, g.name, g.uri).where(g.id == group_id)
        row = (await self._conn.execute(stmt)).first()
        return None if row is None else DistributionGroup(*row)

    async def member_groups(self, user_uri: str) -> list[DistributionGroup]:
        rows = (await self._run(MEMBER_GROUPS, {"b_user": user_uri})).all()
        return [DistributionGroup(*row) for row in rows]

    async def distribution_group_members(self, group_id: str) -> list[User]:
        stmt = (
            sa.select(users)
            .join(distribution_members, distribution_members.c.user_uri == users.c.uri)
            .where(distribution_members.c.group_id == group_id, users.c.disabled == sa.false())
            .order_by(users.c.name, users.c.uri)
        )
        return [user_from_row(dict(r)) for r in (await self._conn.execute(stmt)).mappings()]

    async def search_distribution_groups(self, query: str, limit: int) -> list[DistributionGroup]:
        g = distribution_groups.c
        pattern = "%" + like_escape(query.lower()) + "%"
        stmt = (
            sa.select(g.id, g.dn, g.name, g.uri)
            .where(g.search_key.like(pattern, escape="\\"))
            .order_by(g.search_key)
            .limit(limit)
        )
        return [DistributionGroup(*row) for row in (await self._conn.execute(stmt)).all()]
