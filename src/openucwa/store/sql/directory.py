"""What the company directory's sync keeps beside the accounts: distribution groups and their
members, and the coordination rows (counters, leases) that let several nodes share one sync and
one revocation epoch."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import sqlalchemy as sa

from ...core.models import DistributionGroup, User
from ..interface import DuplicateError
from ..schema import coordination, distribution_groups, distribution_members, users
from .base import TxBase
from .rows import user_from_row
from .users import like_escape


class DirectoryTx(TxBase):
    # coordination ------------------------------------------------------------------------
    async def get_counter(self, name: str) -> int:
        stmt = sa.select(coordination.c.value).where(coordination.c.name == name)
        value = (await self._conn.execute(stmt)).scalar_one_or_none()
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

    # distribution groups -----------------------------------------------------------------
    async def replace_distribution_groups(
        self, groups: Sequence[DistributionGroup], members: Sequence[tuple[str, str]]
    ) -> None:
        await self._conn.execute(distribution_members.delete())
        await self._conn.execute(distribution_groups.delete())
        if groups:
            rows = [
                {**dataclasses.asdict(g), "search_key": "\n".join((g.name, g.uri or "")).lower()}
                for g in groups
            ]
            await self._conn.execute(distribution_groups.insert(), rows)
        if members:
            known = sa.select(users.c.uri)
            present = {u for (u,) in (await self._conn.execute(known)).all()}
            rows = [{"group_id": g, "user_uri": u} for g, u in members if u in present]
            if rows:
                await self._conn.execute(distribution_members.insert(), rows)

    async def get_distribution_group(self, group_id: str) -> DistributionGroup | None:
        g = distribution_groups.c
        stmt = sa.select(g.id, g.dn, g.name, g.uri).where(g.id == group_id)
        row = (await self._conn.execute(stmt)).first()
        return None if row is None else DistributionGroup(*row)

    async def member_groups(self, user_uri: str) -> list[DistributionGroup]:
        g = distribution_groups.c
        stmt = (
            sa.select(g.id, g.dn, g.name, g.uri)
            .join(distribution_members, distribution_members.c.group_id == g.id)
            .where(distribution_members.c.user_uri == user_uri)
            .order_by(g.name, g.id)
        )
        return [DistributionGroup(*row) for row in (await self._conn.execute(stmt)).all()]

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
