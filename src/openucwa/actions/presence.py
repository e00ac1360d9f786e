"""me/presence, me/note, me/location (SPEC §11.4, §11.6, §11.7).

Published values belong to the user; a change is announced on every available application of the
user (the sender ``me`` block, Medium, link only).
"""

from __future__ import annotations

from dataclasses import replace

from ..core import errors
from ..core import presence as model
from ..core.commands import Publish
from ..core.errors import UcwaError
from ..core.events import Event, Priority
from ..core.hal import Json
from ..core.links import AppLinks
from ..core.models import Application, Presence
from ..core.resources import application as res
from . import access, subscriptions
from .services import Services, Unit, retrying, unit


async def _available(u: Unit, app_id: str, user_uri: str) -> Application:
    app = await access.load(u, app_id, user_uri)
    if not app.available:
        raise UcwaError(errors.MAKE_ME_AVAILABLE_REQUIRED)
    return app


async def read(svc: Services, app_id: str, user_uri: str, what: str) -> Json:
    async with unit(svc) as u:
        app = await _available(u, app_id, user_uri)
        pub = await u.tx.get_presence(user_uri)
        if what == "presence":
            apps = await u.tx.list_applications(user_uri)
            return res.presence(app, model.availability(pub, apps, u.now), model.activity(pub, apps))
        if what == "note":
            return res.note(app, pub.note)
        return res.location(app, pub.location)


async def _announce(u: Unit, user_uri: str, rel: str) -> None:
    for other in await u.tx.list_applications(user_uri):
        if other.available:
            a = AppLinks(other.id)
            href = {"presence": a.presence(), "note": a.note(), "location": a.location()}[rel]
            await u.emit(other.id, [Event("me", a.me(), "updated", rel, href, Priority.MEDIUM)])
    await subscriptions.notify(u, user_uri, [rel])  # watchers see contactPresence/Note/Location


@retrying
async def write(svc: Services, app_id: str, user_uri: str, cmd: Publish) -> None:
    async with unit(svc) as u:
        await _available(u, app_id, user_uri)
        pub = await u.tx.get_presence(user_uri)
        new: Presence
        if cmd.what == "presence":
            new = replace(pub, availability=cmd.value, activity=None, last_active=u.now)
        elif cmd.what == "note":
            new = replace(pub, note=cmd.value)
        else:
            new = replace(pub, location=cmd.value)
        if new != pub:
            await u.tx.put_presence(new)
            await _announce(u, user_uri, cmd.what)
