"""The Store, once, in SQLAlchemy Core: SQLite and PostgreSQL differ only in how they are opened.

Dialect differences stay in ``sqlite.py``/``postgres.py`` (connection setup, how transactions are
serialised); everything here is portable SQL, so both backends pass one contract suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import typing
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..core.conversation import ConvView, Message
from ..core.events import Event, Priority, StoredEvent
from ..core.models import (
    Application,
    AppStatus,
    DistributionGroup,
    Presence,
    PresenceSubscription,
    Token,
    User,
)
from .interface import DuplicateError, RetryableError
from .schema import (
    applications,
    batches,
    contact_groups,
    contact_members,
    conversations,
    coordination,
    distribution_groups,
    distribution_members,
    messages,
    photos,
    presence,
    presence_subscriptions,
    presence_watches,
    sessions,
    tokens,
    users,
)
from .schema import events as queue

T = TypeVar("T")
MIGRATIONS = Path(__file__).with_name("migrations")
_APP_HINTS = typing.get_type_hints(Application)
APP_FIELDS = frozenset(f.name for f in dataclasses.fields(Application))
# Columns holding JSON text, decoded back to the Python type the dataclass declares.
_TUPLE_FIELDS = frozenset(n for n, t in _APP_HINTS.items() if typing.get_origin(t) is tuple)
_DICT_FIELDS = frozenset(n for n, t in _APP_HINTS.items() if typing.get_origin(t) is dict)
# Arbitrary constant: PostgreSQL nodes starting together must not race to create the tables.
_MIGRATION_LOCK_KEY = 0x0C_A1_0001
_UNIQUE_SQLITE = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})


_RETRYABLE = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def _is_unique_violation(exc: IntegrityError) -> bool:
    """Only key clashes are DuplicateError; a foreign-key failure is a caller bug and must surface."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == "23505" or getattr(orig, "pgcode", None) == "23505":
        return True
    if getattr(orig, "sqlite_errorname", None) in _UNIQUE_SQLITE:
        return True
    return "UNIQUE constraint failed" in str(orig)


def _to_column(name: str, value: Any) -> Any:
    if name in _TUPLE_FIELDS:
        return orjson.dumps(list(value)).decode()
    if name in _DICT_FIELDS:
        return orjson.dumps(dict(value)).decode()
    return value


def app_field_value(name: str, value: Any) -> Any:
    """A field given to ``update_application`` as reading the row back would give it."""
    if name in _TUPLE_FIELDS:
        return tuple(value)
    if name in _DICT_FIELDS:
        return dict(value)
    return value


def _app_from_row(row: Mapping[str, Any]) -> Application:
    values = dict(row)
    for name in _TUPLE_FIELDS:
        values[name] = tuple(orjson.loads(values[name]))
    for name in _DICT_FIELDS:
        values[name] = orjson.loads(values[name])
    return Application(**values)


def _event_row(app_id: str, ev: Event, now: float) -> dict[str, Any]:
    """A queued event as stored: rendered once, with what batching and receipts need beside it."""
    return {
        "app_id": app_id,
        "sender_rel": ev.sender_rel,
        "sender_href": ev.sender_href,
        "body": orjson.dumps(ev.wire()).decode(),
        "priority": int(ev.priority),
        "enqueued_at": now,
        "merge_key": ev.merge_key,
        "receipt": None if ev.receipt is None else orjson.dumps(ev.receipt).decode(),
    }


def _message_from_row(row: Mapping[str, Any]) -> Message:
    values = dict(row)
    values["failed"] = tuple(orjson.loads(values["failed"]))
    return Message(**values)


_USER_FIELDS = frozenset(f.name for f in dataclasses.fields(User))
_MESSAGE_FIELDS = tuple(f.name for f in dataclasses.fields(Message))


def _user_from_row(row: Mapping[str, Any]) -> User:
    return User(**{k: v for k, v in row.items() if k in _USER_FIELDS})


def search_key(user: User) -> str:
    """What people search matches against (SPEC §12.6): name first, so a name prefix is a key prefix."""
    parts = (user.name, f"sip:{user.uri}", user.email or "", user.work_phone or "")
    return "\n".join(parts).lower()


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Statements built once, with bind parameters: hot paths run them by identity, so a backend may
# compile each once (SQLite does, see sqlite.py) instead of rebuilding and re-keying it per call.
_b = sa.bindparam
_ac = applications.c
APP_BY_ID = sa.select(applications).where(_ac.id == _b("b_id"))
APP_BY_ID_LOCKED = APP_BY_ID.with_for_update()  # SQLite ignores it; its store lock serialises
APP_UPDATE = applications.update().where(_ac.id == _b("b_id"))  # SET from the other parameters
APP_BUMP = APP_UPDATE.values(version=_ac.version + 1).returning(_ac.version)
EVENTS_QUEUED = sa.select(queue).where(queue.c.app_id == _b("b_app")).order_by(queue.c.position)
EVENT_CONSUMED = queue.delete().where(queue.c.app_id == _b("b_app"), queue.c.position == _b("b_pos"))
BATCH_BODY = sa.select(batches.c.body).where(batches.c.app_id == _b("b_app"), batches.c.number == _b("b_n"))
BATCHES_PRUNE = batches.delete().where(batches.c.app_id == _b("b_app"), batches.c.number < _b("b_below"))
SESSION_ROW = sa.select(sessions.c.id).where(sessions.c.id == _b("b_id"))
SESSION_LOCK = SESSION_ROW.with_for_update()
SESSION_TRY_LOCK = SESSION_ROW.with_for_update(skip_locked=True)
CONV_DOC = sa.select(conversations.c.doc).where(conversations.c.id == _b("b_id"))
CONV_UPDATE = conversations.update().where(conversations.c.id == _b("b_id"))
SESSION_DOCS = sa.select(conversations.c.doc).where(conversations.c.session_id == _b("b_sid"))
MESSAGE_GET = sa.select(messages).where(messages.c.conv_id == _b("b_conv"), messages.c.n == _b("b_n"))
MESSAGE_UPDATE = messages.update().where(messages.c.conv_id == _b("b_conv"), messages.c.n == _b("b_n"))
INSERTS: dict[sa.Table, sa.Insert] = {}


def insert_statement(table: sa.Table) -> sa.Insert:
    stmt = INSERTS.get(table)
    if stmt is None:
        stmt = INSERTS[table] = table.insert()
    return stmt


class SqlTx:
    """One open transaction; it never commits itself, ``SqlStore.transaction`` does."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def _run(self, stmt: sa.Executable, params: Any = None) -> Any:
        """Executes one of the statements above with its parameters (a list: executemany)."""
        return await self._conn.execute(stmt, params)

    def _clash_guard(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """A savepoint keeps the transaction usable after a clash (PostgreSQL would abort it)."""
        return self._conn.begin_nested()

    async def _insert(self, table: sa.Table, values: Mapping[str, Any]) -> None:
        try:
            async with self._clash_guard():
                await self._run(insert_statement(table), dict(values))
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise DuplicateError(str(exc.orig)) from exc
            raise

    # users -------------------------------------------------------------------------------
    async def add_user(self, user: User) -> None:
        values = {**dataclasses.asdict(user), "search_key": search_key(user)}
        values["id"] = user.id or uuid.uuid4().hex
        await self._insert(users, values)

    async def update_user(self, user: User) -> None:
        values = {**dataclasses.asdict(user), "search_key": search_key(user)}
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

    async def list_user_states(self, source: str) -> dict[str, bool]:
        stmt = sa.select(users.c.uri, users.c.disabled).where(users.c.source == source)
        return {uri: bool(disabled) for uri, disabled in (await self._conn.execute(stmt)).all()}

    async def get_user(self, uri: str) -> User | None:
        row = (await self._conn.execute(sa.select(users).where(users.c.uri == uri))).mappings().first()
        return None if row is None else _user_from_row(row)

    async def list_users(self) -> list[User]:
        rows = (await self._conn.execute(sa.select(users).order_by(users.c.uri))).mappings()
        return [_user_from_row(r) for r in rows]

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
                    found.append(_user_from_row(r))

        await take(sa.select(users).where(sa.or_(c.uri == exact, c.email == exact)).order_by(c.uri))
        prefix = sa.and_(c.search_key >= q, c.search_key < q + "\U0010ffff")
        if len(found) < want:
            await take(sa.select(users).where(prefix).order_by(c.search_key))
        if len(found) < want:
            esc = _like_escape(q)
            await take(
                sa.select(users).where(c.search_key.like("%" + esc + "%", escape="\\"), sa.not_(prefix))
            )
        return found[:limit], len(found) > limit

    # contact lists -----------------------------------------------------------------------
    async def list_contact_groups(self, owner_uri: str) -> list[tuple[str, str]]:
        stmt = (
            sa.select(contact_groups.c.id, contact_groups.c.name)
            .where(contact_groups.c.owner_uri == owner_uri)
            .order_by(contact_groups.c.name, contact_groups.c.id)
        )
        return [(r[0], r[1]) for r in await self._conn.execute(stmt)]

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
        m = contact_members.c
        stmt = (
            sa.select(m.group_id, users)
            .join(users, users.c.uri == m.contact_uri)
            .where(m.owner_uri == owner_uri)
            .order_by(users.c.name, users.c.uri, m.group_id)
        )
        out = []
        for r in (await self._conn.execute(stmt)).mappings():
            values = dict(r)
            gid = values.pop("group_id")
            out.append((gid, _user_from_row(values)))
        return out

    # photos ------------------------------------------------------------------------------
    async def put_photo(self, user_uri: str, data: bytes, etag: str) -> None:
        stmt = photos.update().where(photos.c.user_uri == user_uri).values(data=data, etag=etag)
        if (await self._conn.execute(stmt)).rowcount == 0:
            await self._insert(photos, {"user_uri": user_uri, "data": data, "etag": etag})

    async def get_photo(self, user_uri: str) -> tuple[bytes, str] | None:
        stmt = sa.select(photos.c.data, photos.c.etag).where(photos.c.user_uri == user_uri)
        row = (await self._conn.execute(stmt)).first()
        return None if row is None else (bytes(row[0]), str(row[1]))

    # presence subscriptions --------------------------------------------------------------
    async def add_subscription(self, sub: PresenceSubscription) -> None:
        await self._insert(presence_subscriptions, dataclasses.asdict(sub))

    async def get_subscription(self, sub_id: str) -> PresenceSubscription | None:
        stmt = sa.select(presence_subscriptions).where(presence_subscriptions.c.id == sub_id)
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else PresenceSubscription(**row)

    async def list_subscriptions(self, app_id: str) -> list[PresenceSubscription]:
        c = presence_subscriptions.c
        stmt = sa.select(presence_subscriptions).where(c.app_id == app_id).order_by(c.expires_at, c.id)
        return [PresenceSubscription(**r) for r in (await self._conn.execute(stmt)).mappings()]

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
        w = presence_watches.c
        stmt = sa.select(w.sub_id, w.contact_uri).where(w.app_id == app_id)
        if sub_id is not None:
            stmt = stmt.where(w.sub_id == sub_id)
        stmt = stmt.order_by(w.sub_id, w.contact_uri)
        return [(r[0], r[1]) for r in await self._conn.execute(stmt)]

    async def watchers(self, contact_uri: str) -> list[str]:
        """Ids of the applications watching this user, each once."""
        w = presence_watches.c
        stmt = sa.select(w.app_id).where(w.contact_uri == contact_uri).distinct().order_by(w.app_id)
        return list((await self._conn.execute(stmt)).scalars())

    async def delete_app_subscriptions(self, app_id: str) -> None:
        await self._conn.execute(presence_watches.delete().where(presence_watches.c.app_id == app_id))
        await self._conn.execute(
            presence_subscriptions.delete().where(presence_subscriptions.c.app_id == app_id)
        )

    # tokens ------------------------------------------------------------------------------
    async def add_token(self, token: Token) -> None:
        await self._insert(tokens, dataclasses.asdict(token))

    async def get_token(self, token_hash: str) -> Token | None:
        # Valid only for the account it was issued to, at the generation it was issued at.
        account = sa.and_(
            users.c.uri == tokens.c.user_uri,
            users.c.id == tokens.c.account_id,
            users.c.generation == tokens.c.generation,
            users.c.disabled == sa.false(),
        )
        stmt = sa.select(tokens).join(users, account).where(tokens.c.token_hash == token_hash)
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else Token(**row)

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
        cols = (
            distribution_groups.c.id,
            distribution_groups.c.dn,
            distribution_groups.c.name,
            distribution_groups.c.uri,
        )
        stmt = sa.select(*cols).where(distribution_groups.c.id == group_id)
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
        return [_user_from_row(dict(r)) for r in (await self._conn.execute(stmt)).mappings()]

    async def search_distribution_groups(self, query: str, limit: int) -> list[DistributionGroup]:
        g = distribution_groups.c
        pattern = "%" + _like_escape(query.lower()) + "%"
        stmt = (
            sa.select(g.id, g.dn, g.name, g.uri)
            .where(g.search_key.like(pattern, escape="\\"))
            .order_by(g.search_key)
            .limit(limit)
        )
        return [DistributionGroup(*row) for row in (await self._conn.execute(stmt)).all()]

    async def delete_expired_tokens(self, now: float) -> int:
        """A token is valid while ``now < expires_at``."""
        return (await self._conn.execute(tokens.delete().where(tokens.c.expires_at <= now))).rowcount

    # applications ------------------------------------------------------------------------
    async def add_application(self, app: Application) -> None:
        values = {f.name: _to_column(f.name, getattr(app, f.name)) for f in dataclasses.fields(app)}
        await self._insert(applications, values)

    async def get_application(self, app_id: str, *, for_update: bool = False) -> Application | None:
        stmt = APP_BY_ID_LOCKED if for_update else APP_BY_ID
        row = (await self._run(stmt, {"b_id": app_id})).mappings().first()
        return None if row is None else _app_from_row(row)

    async def find_application(self, user_uri: str, endpoint_id: str) -> Application | None:
        c = applications.c
        stmt = (
            sa.select(applications)
            .where(c.user_uri == user_uri, c.endpoint_id == endpoint_id, c.status == AppStatus.ACTIVE)
            .order_by(c.created_at.desc(), c.id)
            .limit(1)
        )
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _app_from_row(row)

    async def list_applications(
        self, user_uri: str | None = None, *, active_only: bool = True
    ) -> list[Application]:
        c = applications.c
        stmt = sa.select(applications).order_by(c.created_at, c.id)
        if user_uri is not None:
            stmt = stmt.where(c.user_uri == user_uri)
        if active_only:
            stmt = stmt.where(c.status == AppStatus.ACTIVE)
        return [_app_from_row(r) for r in (await self._conn.execute(stmt)).mappings()]

    async def update_application(self, app_id: str, **fields: Any) -> None:
        """Raises ValueError for names that are not ``Application`` fields, and for ``id``."""
        unknown = set(fields) - APP_FIELDS
        if unknown or "id" in fields:
            raise ValueError(f"cannot update application fields: {sorted(unknown | (set(fields) & {'id'}))}")
        if not fields:
            return
        values = {k: _to_column(k, v) for k, v in fields.items()}
        values["b_id"] = app_id
        await self._run(APP_UPDATE, values)

    async def delete_application(self, app_id: str) -> None:
        await self._conn.execute(queue.delete().where(queue.c.app_id == app_id))
        await self._conn.execute(batches.delete().where(batches.c.app_id == app_id))
        await self._conn.execute(applications.delete().where(applications.c.id == app_id))

    # presence ----------------------------------------------------------------------------
    async def get_presence(self, user_uri: str) -> Presence:
        stmt = sa.select(presence).where(presence.c.user_uri == user_uri)
        row = (await self._conn.execute(stmt)).mappings().first()
        return Presence(user_uri) if row is None else Presence(**row)

    async def put_presence(self, value: Presence) -> None:
        values = dataclasses.asdict(value)
        stmt = presence.update().where(presence.c.user_uri == value.user_uri).values(values)
        if (await self._conn.execute(stmt)).rowcount == 0:
            await self._insert(presence, values)

    # event channel -----------------------------------------------------------------------
    async def append_events(self, app_id: str, events: Sequence[Event], now: float) -> int:
        """Raises LookupError for an unknown application.

        The version is bumped *before* inserting: the row lock it takes makes concurrent appenders to
        one application draw positions in commit order, so a queue never gains an older position.
        """
        version = await self.bump_version(app_id)
        if events:
            await self._run(insert_statement(queue), [_event_row(app_id, ev, now) for ev in events])
        return version

    async def append_events_many(self, batches: Mapping[str, Sequence[Event]], now: float) -> dict[str, int]:
        """``append_events`` for many applications in two statements per 500 (fan-out to watchers).

        Applications that no longer exist are skipped (absent from the result) rather than failing
        the change that is being announced.
        """
        c = applications.c
        versions: dict[str, int] = {}
        ids = sorted(batches)  # one lock order for every fan-out
        for lo in range(0, len(ids), 500):
            chunk = ids[lo : lo + 500]
            stmt = (
                applications.update()
                .where(c.id.in_(chunk))
                .values(version=c.version + 1)
                .returning(c.id, c.version)
            )
            found = {r[0]: int(r[1]) for r in await self._conn.execute(stmt)}
            versions.update(found)
            rows = [
                _event_row(app_id, ev, now) for app_id in chunk if app_id in found for ev in batches[app_id]
            ]
            if rows:
                await self._conn.execute(queue.insert(), rows)
        return versions

    async def bump_version(self, app_id: str) -> int:
        """Raises LookupError for an unknown application."""
        version = (await self._run(APP_BUMP, {"b_id": app_id})).scalar_one_or_none()
        if version is None:
            raise LookupError(f"no application {app_id!r}")
        return int(version)

    async def queued_events(self, app_id: str) -> list[StoredEvent]:
        return [
            StoredEvent(
                position=r["position"],
                sender_rel=r["sender_rel"],
                sender_href=r["sender_href"],
                body=orjson.loads(r["body"]),
                priority=Priority(r["priority"]),
                enqueued_at=r["enqueued_at"],
                merge_key=r["merge_key"],
                receipt=None if r["receipt"] is None else orjson.loads(r["receipt"]),
            )
            for r in (await self._run(EVENTS_QUEUED, {"b_app": app_id})).mappings()
        ]

    async def take_overdue_receipts(self, enqueued_before: float) -> list[tuple[str, dict[str, Any]]]:
        """Removes undelivered message events queued before the cutoff; returns (app, receipt)."""
        c = queue.c
        cond = sa.and_(c.receipt.is_not(None), c.enqueued_at < enqueued_before)
        rows = (await self._conn.execute(sa.select(c.position, c.app_id, c.receipt).where(cond))).all()
        if rows:
            await self._conn.execute(queue.delete().where(c.position.in_([r[0] for r in rows])))
        return [(r[1], orjson.loads(r[2])) for r in rows]

    async def discard_queued(self, app_id: str) -> None:
        await self._conn.execute(queue.delete().where(queue.c.app_id == app_id))

    async def store_batch(self, app_id: str, number: int, body: bytes, positions: Sequence[int]) -> None:
        """Raises DuplicateError when the batch number exists (a batch is produced once)."""
        await self._insert(batches, {"app_id": app_id, "number": number, "body": body})
        if positions:
            await self._run(EVENT_CONSUMED, [{"b_app": app_id, "b_pos": p} for p in positions])

    async def get_batch(self, app_id: str, number: int) -> bytes | None:
        body = (await self._run(BATCH_BODY, {"b_app": app_id, "b_n": number})).scalar_one_or_none()
        return None if body is None else bytes(body)

    # conversations -----------------------------------------------------------------------
    async def add_session(self, session_id: str, now: float) -> None:
        await self._insert(sessions, {"id": session_id, "created_at": now})

    async def lock_session(self, session_id: str) -> bool:
        """Serialises every action on one communication's views; False if the session is gone."""
        return (await self._run(SESSION_LOCK, {"b_id": session_id})).first() is not None

    async def try_lock_session(self, session_id: str) -> bool | None:
        if (await self._run(SESSION_TRY_LOCK, {"b_id": session_id})).first() is not None:
            return True
        # Skipped: either gone or locked by someone else; a plain read tells which.
        exists = (await self._run(SESSION_ROW, {"b_id": session_id})).first() is not None
        return None if exists else False

    async def set_session_deadline(self, session_id: str, deadline: float | None) -> None:
        await self._conn.execute(
            sessions.update().where(sessions.c.id == session_id).values(deadline=deadline)
        )

    async def advance_session_deadline(self, session_id: str, deadline: float) -> None:
        c = sessions.c
        cond = sa.and_(c.id == session_id, sa.or_(c.deadline.is_(None), c.deadline > deadline))
        await self._conn.execute(sessions.update().where(cond).values(deadline=deadline))

    async def due_sessions(self, now: float) -> list[str]:
        stmt = sa.select(sessions.c.id).where(sessions.c.deadline <= now)
        return list((await self._conn.execute(stmt)).scalars())

    async def delete_session(self, session_id: str) -> None:
        await self._conn.execute(sessions.delete().where(sessions.c.id == session_id))

    async def put_conversation(self, view: ConvView) -> None:
        doc = orjson.dumps(view).decode()  # orjson writes a dataclass as its fields, nested ones too
        if (await self._run(CONV_UPDATE, {"b_id": view.id, "doc": doc})).rowcount == 0:
            await self._insert(
                conversations,
                {"id": view.id, "app_id": view.app_id, "session_id": view.session_id, "doc": doc},
            )

    async def get_conversation(self, conv_id: str) -> ConvView | None:
        doc = (await self._run(CONV_DOC, {"b_id": conv_id})).scalar_one_or_none()
        return None if doc is None else ConvView.from_doc(orjson.loads(doc))

    async def list_conversations(self, app_id: str) -> list[ConvView]:
        stmt = sa.select(conversations.c.doc).where(conversations.c.app_id == app_id)
        views = [ConvView.from_doc(orjson.loads(d)) for d in (await self._conn.execute(stmt)).scalars()]
        return sorted(views, key=lambda v: (v.created_at, v.id))

    async def session_views(self, session_id: str) -> list[ConvView]:
        docs = (await self._run(SESSION_DOCS, {"b_sid": session_id})).scalars()
        views = [ConvView.from_doc(orjson.loads(d)) for d in docs]
        return sorted(views, key=lambda v: (v.created_at, v.id))

    async def delete_conversation(self, conv_id: str) -> None:
        await self._conn.execute(conversations.delete().where(conversations.c.id == conv_id))

    async def add_message(self, m: Message) -> None:
        values = {f: getattr(m, f) for f in _MESSAGE_FIELDS}  # not asdict: it deep-copies every value
        values["failed"] = orjson.dumps(list(m.failed)).decode()
        await self._insert(messages, values)

    async def get_message(self, conv_id: str, n: int) -> Message | None:
        row = (await self._run(MESSAGE_GET, {"b_conv": conv_id, "b_n": n})).mappings().first()
        return None if row is None else _message_from_row(row)

    async def list_messages(
        self, conv_id: str, before: int | None = None, limit: int = 1000
    ) -> list[Message]:
        """Newest first, at most ``limit``, with ``n < before`` when given."""
        c = messages.c
        stmt = sa.select(messages).where(c.conv_id == conv_id)
        if before is not None:
            stmt = stmt.where(c.n < before)
        stmt = stmt.order_by(c.n.desc()).limit(limit)
        return [_message_from_row(r) for r in (await self._conn.execute(stmt)).mappings()]

    async def update_message(self, conv_id: str, n: int, *, status: str, failed: Sequence[str]) -> None:
        values = {"b_conv": conv_id, "b_n": n, "status": status}
        await self._run(MESSAGE_UPDATE, {**values, "failed": orjson.dumps(list(failed)).decode()})

    async def prune_batches(self, app_id: str, below: int) -> None:
        await self._run(BATCHES_PRUNE, {"b_app": app_id, "b_below": below})


def upgrade(sync_conn: sa.Connection) -> None:
    """``alembic upgrade head`` on a connection inside a transaction."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if sync_conn.dialect.name == "postgresql":
        sync_conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


class SqlStore:
    """Store over an AsyncEngine; ``lock`` serialises whole transactions where the database can't."""

    def __init__(self, engine: AsyncEngine, *, lock: asyncio.Lock | None = None) -> None:
        self.engine = engine
        self._lock = lock

    @contextlib.asynccontextmanager
    async def _serialised(self) -> AsyncIterator[None]:
        if self._lock is None:
            yield
        else:
            async with self._lock:
                yield

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTx]:
        """Commits when the block exits normally, rolls back when it raises. Do not nest them."""
        try:
            async with self._serialised(), self.engine.connect() as conn, conn.begin():
                yield SqlTx(conn)
        except DBAPIError as exc:
            if _sqlstate(exc) in _RETRYABLE:
                raise RetryableError(str(exc.orig)) from exc
            raise

    async def migrate(self) -> None:
        """Runs ``alembic upgrade head`` on our own connection: no alembic.ini, no second engine."""
        async with self._serialised(), self.engine.begin() as conn:
            await conn.run_sync(upgrade)

    async def run_sync(self, fn: Callable[[sa.Connection], T]) -> T:
        """Runs ``fn`` on a plain connection (schema checks, diagnostics)."""
        async with self._serialised(), self.engine.connect() as conn:
            return await conn.run_sync(fn)

    async def close(self) -> None:
        await self.engine.dispose()
