"""Statements built once, with bind parameters, for the hot paths.

Hot paths run them by identity, so a backend may compile each once (SQLite does, see
``store/sqlite/statements.py``) instead of rebuilding and re-keying it per call.
"""

from __future__ import annotations

import sqlalchemy as sa

from ...core.models import AppStatus
from ..schema import (
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
    users,
)
from ..schema import events as queue

_b = sa.bindparam
_ac = applications.c
APP_BY_ID = sa.select(applications).where(_ac.id == _b("b_id"))
APP_BY_ID_LOCKED = APP_BY_ID.with_for_update()  # SQLite ignores it; its store lock serialises
APP_UPDATE = applications.update().where(_ac.id == _b("b_id"))  # SET from the other parameters
APP_BUMP = APP_UPDATE.values(version=_ac.version + 1).returning(_ac.version)
APP_BUMP_ROW = APP_UPDATE.values(version=_ac.version + 1).returning(*applications.c)  # the row as bumped
# A user's active applications: what a client reads when it signs in or comes back (its endpoint's
# application), what presence reads for every change, and the per-user limit at every new one (a
# count, then the least recently used beyond the limit; both from one index).
_ACTIVE_OF_USER = (_ac.user_uri == _b("b_user"), _ac.status == AppStatus.ACTIVE)
APP_OF_ENDPOINT = (
    sa.select(applications)
    .where(*_ACTIVE_OF_USER, _ac.endpoint_id == _b("b_endpoint"))
    .order_by(_ac.created_at.desc(), _ac.id)
    .limit(1)
)
APPS_OF_USER = sa.select(applications).where(*_ACTIVE_OF_USER).order_by(_ac.created_at, _ac.id)
APPS_COUNT_OF_USER = sa.select(sa.func.count()).where(*_ACTIVE_OF_USER)
APPS_LEAST_USED_OF_USER = (
    sa.select(applications).where(*_ACTIVE_OF_USER).order_by(_ac.last_request_at, _ac.id).limit(_b("b_limit"))
)
USER_BY_URI = sa.select(users).where(users.c.uri == _b("b_uri"))
# What a client reads when it signs in or comes back, and what presence reads for every change: a
# user's published presence, contact lists, an application's subscriptions.
PRESENCE_OF = sa.select(presence).where(presence.c.user_uri == _b("b_user"))
PHOTO_OF = sa.select(photos.c.data, photos.c.etag).where(photos.c.user_uri == _b("b_user"))  # every <img>
PRESENCE_UPDATE = presence.update().where(presence.c.user_uri == _b("b_user"))  # SET from the rest
_g, _m = contact_groups.c, contact_members.c
CONTACT_GROUPS = sa.select(_g.id, _g.name).where(_g.owner_uri == _b("b_owner")).order_by(_g.name, _g.id)
CONTACTS = (
    sa.select(_m.group_id, users)
    .join(users, users.c.uri == _m.contact_uri)
    .where(_m.owner_uri == _b("b_owner"))
    .order_by(users.c.name, users.c.uri, _m.group_id)
)
_dg = distribution_groups.c
MEMBER_GROUPS = (
    sa.select(_dg.id, _dg.dn, _dg.name, _dg.uri)
    .join(distribution_members, distribution_members.c.group_id == _dg.id)
    .where(distribution_members.c.user_uri == _b("b_user"))
    .order_by(_dg.name, _dg.id)
)
_w, _ps = presence_watches.c, presence_subscriptions.c
WATCHERS = sa.select(_w.app_id).where(_w.contact_uri == _b("b_contact")).distinct().order_by(_w.app_id)
WATCHES_OF_APP = sa.select(_w.sub_id, _w.contact_uri).where(_w.app_id == _b("b_app"))
SUBSCRIPTION_BY_ID = sa.select(presence_subscriptions).where(_ps.id == _b("b_id"))
SUBSCRIPTIONS_OF_APP = (
    sa.select(presence_subscriptions).where(_ps.app_id == _b("b_app")).order_by(_ps.expires_at, _ps.id)
)
# What ending an application (signing out, the reaper's expiry) and ending a conversation delete.
WATCHES_OF_APP_DELETE = presence_watches.delete().where(_w.app_id == _b("b_app"))
SUBSCRIPTIONS_OF_APP_DELETE = presence_subscriptions.delete().where(_ps.app_id == _b("b_app"))
CONV_DELETE = conversations.delete().where(conversations.c.id == _b("b_id"))
SESSION_DELETE = sessions.delete().where(sessions.c.id == _b("b_id"))
CONVERSATIONS_OF_APP = sa.select(conversations.c.doc).where(conversations.c.app_id == _b("b_app"))
EVENTS_QUEUED = sa.select(queue).where(queue.c.app_id == _b("b_app")).order_by(queue.c.position)
EVENTS_DISCARD = queue.delete().where(queue.c.app_id == _b("b_app"))
EVENT_CONSUMED = queue.delete().where(queue.c.app_id == _b("b_app"), queue.c.position == _b("b_pos"))
BATCH_BODY = sa.select(batches.c.body).where(batches.c.app_id == _b("b_app"), batches.c.number == _b("b_n"))
BATCHES_PRUNE = batches.delete().where(batches.c.app_id == _b("b_app"), batches.c.number < _b("b_below"))
SESSION_ROW = sa.select(sessions.c.id).where(sessions.c.id == _b("b_id"))
SESSION_LOCK = SESSION_ROW.with_for_update()
SESSION_TRY_LOCK = SESSION_ROW.with_for_update(skip_locked=True)
SESSION_DEADLINE = sessions.update().where(sessions.c.id == _b("b_id"))  # SET deadline
# Moves a session's deadline earlier only: every typing notification and every invitation sent.
SESSION_DEADLINE_SOONER = (
    sessions.update()
    .where(
        sessions.c.id == _b("b_id"),
        sa.or_(sessions.c.deadline.is_(None), sessions.c.deadline > _b("b_deadline")),
    )
    .values(deadline=_b("b_deadline"))
)
CONV_DOC = sa.select(conversations.c.doc).where(conversations.c.id == _b("b_id"))
CONV_UPDATE = conversations.update().where(conversations.c.id == _b("b_id"))
# With each id: PostgreSQL's unit keeps a session's documents by conversation (``postgres.tx``).
SESSION_DOCS = sa.select(conversations.c.id, conversations.c.doc).where(
    conversations.c.session_id == _b("b_sid")
)
MESSAGE_GET = sa.select(messages).where(messages.c.conv_id == _b("b_conv"), messages.c.n == _b("b_n"))
MESSAGE_UPDATE = messages.update().where(messages.c.conv_id == _b("b_conv"), messages.c.n == _b("b_n"))
COUNTER = sa.select(coordination.c.value).where(coordination.c.name == _b("b_name"))
INSERTS: dict[sa.Table, sa.Insert] = {}


def insert_statement(table: sa.Table) -> sa.Insert:
    stmt = INSERTS.get(table)
    if stmt is None:
        stmt = INSERTS[table] = table.insert()
    return stmt
