"""Users (with what people search matches against) and their access tokens."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ...core.models import Token, User
from ..schema import tokens, users
from .base import TxBase, chunked
from .rows import search_key, user_from_row
from .statements import USER_BY_URI


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# A token is valid only for the account it was issued to, at the generation it was issued at.
_ACCOUNT = sa.and_(
    users.c.uri == tokens.c.user_uri,
    users.c.id == tokens.c.account_id,
    users.c.generation == tokens.c.generation,
    users.c.disabled == sa.false(),
)
# Prepared: every request after a restart (or once a node's token cache forgot it) reads its token.
_TOKEN_BY_HASH = sa.select(tokens).join(users, _ACCOUNT).where(tokens.c.token_hash == sa.bindparam("b_hash"))


def _dn_key(user: User) -> str | None:
    """Group members name people by DN, in whatever case the directory kept."""
    return None if user.dn is None else user.dn.lower()


class UsersTx(TxBase):
    # users -------------------------------------------------------------------------------
    async def add_user(self, user: User) -> None:
        values = {**dataclasses.asdict(user), "search_key": search_key(user), "dn_key": _dn_key(user)}
        values["id"] = user.id or uuid.uuid4().hex
        await self._insert(users, values)

    async def update_user(self, user: User) -> None:
        values = {**dataclasses.asdict(user), "search_key": search_key(user), "dn_key": _dn_key(user)}
        for fixed in ("uri", "id", "generation", "password_hash"):
            values.pop(fixed)
        await self._conn.execute(users.update().where(users.c.uri == user.uri).values(**values))

    async def revoke_user(self, uri: str, *, disabled: bool | None = None) -> User | None:
        values: dict[str, Any] = {"generation": users.c.generation + 1}
        if disabled is not None:
            values["disabled"] = disabled
        stmt = users.update().where(users.c.uri == uri).values(**values)
        if (await self._conn.execute(stmt)).rowcount == 0:
            return None
        await self._conn.execute(tokens.delete().where(tokens.c.user_uri == uri))
        return await self.get_user(uri)

    async def get_user(self, uri: str) -> User | None:
        row = (await self._run(USER_BY_URI, {"b_uri": uri})).mappings().first()
        return None if row is None else user_from_row(row)

    async def list_users(self) -> list[User]:
        rows = (await self._conn.execute(sa.select(users).order_by(users.c.uri))).mappings()
        return [user_from_row(r) for r in rows]

    async def set_password(self, uri: str, password_hash: str) -> bool:
        stmt = (
            users.update()
            .where(users.c.uri == uri)
            .values(password_hash=password_hash, generation=users.c.generation + 1)
        )
        if (await self._conn.execute(stmt)).rowcount == 0:
            return False
        await self._conn.execute(tokens.delete().where(tokens.c.user_uri == uri))
        return True

    async def remove_user(self, uri: str) -> bool:
        # Tokens go with the user through ON DELETE CASCADE.
        return (await self._conn.execute(users.delete().where(users.c.uri == uri))).rowcount > 0

    async def search_users(self, query: str, limit: int) -> tuple[list[User], bool]:
        """Case-insensitive substring search, best first: exact uri/e-mail, name prefix, the rest.

        Three tiers, each cut with LIMIT so the database stops early: an exact uri or e-mail is an
        index lookup, a name prefix is a range of the ``search_key`` index (the key starts with the
        lower-cased name), and only the plain substring tier scans, stopping at the first
        ``limit + 1 - found`` hits. A query that matches nothing is therefore the slow case (one
        scan of a pre-lowered column, no per-row lower()).
        """
        q = query.lower()
        c = users.c
        want = limit + 1
        exact = q.removeprefix("sip:")
        found: list[User] = []
        seen: set[str] = set()

        async def take(stmt: sa.Select[Any]) -> None:
            stmt = stmt.where(c.disabled == sa.false())  # people who left are not found
            if seen:  # an exact hit must not take a later tier's slot (and hide a real match)
                stmt = stmt.where(c.uri.not_in(sorted(seen)))
            for r in (await self._conn.execute(stmt.limit(want - len(found)))).mappings():
                if r["uri"] not in seen:
                    seen.add(r["uri"])
                    found.append(user_from_row(r))

        await take(sa.select(users).where(sa.or_(c.uri == exact, c.email == exact)).order_by(c.uri))
        prefix = sa.and_(c.search_key >= q, c.search_key < q + "\U0010ffff")
        if len(found) < want:
            await take(sa.select(users).where(prefix).order_by(c.search_key))
        if len(found) < want:
            esc = like_escape(q)
            await take(
                sa.select(users).where(c.search_key.like("%" + esc + "%", escape="\\"), sa.not_(prefix))
            )
        return found[:limit], len(found) > limit

    # tokens ------------------------------------------------------------------------------
    async def add_token(self, token: Token) -> None:
        await self._insert(tokens, dataclasses.asdict(token))

    async def get_token(self, token_hash: str) -> Token | None:
        row = (await self._run(_TOKEN_BY_HASH, {"b_hash": token_hash})).mappings().first()
        return None if row is None else Token(**row)

    async def valid_tokens(self, token_hashes: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in chunked(token_hashes):
            stmt = sa.select(tokens.c.token_hash).join(users, _ACCOUNT).where(tokens.c.token_hash.in_(chunk))
            found.update((await self._conn.execute(stmt)).scalars().all())
        return found

    async def delete_expired_tokens(self, now: float) -> int:
        """A token is valid while ``now < expires_at``."""
        return (await self._conn.execute(tokens.delete().where(tokens.c.expires_at <= now))).rowcount
