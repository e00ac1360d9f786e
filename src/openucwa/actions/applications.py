"""Create, read and end applications; makeMeAvailable and reportMyActivity; expiry (SPEC §7, §11).

An application that ended keeps its row for ``tombstone_lifetime`` so that its URLs answer 410
(expired, evicted) or 404 ApplicationNotFound (deleted) rather than guessing; the reaper removes it
after that and every request then gets 404 ApplicationNotFound.
"""

from __future__ import annotations

import uuid

from ..core import errors, photo_credential
from ..core.commands import CreateApplication, MakeMeAvailable
from ..core.errors import UcwaError
from ..core.events import Event, Priority
from ..core.ids import application_id_from
from ..core.links import AppLinks
from ..core.models import Application, AppStatus, User
from ..core.resources import application as res
from . import leaving, subscriptions
from .access import load
from .services import Services, Unit, retrying, unit


@retrying
async def create(svc: Services, user_uri: str, cmd: CreateApplication) -> tuple[Application, User, bool]:
    """Returns the application, its owner's record and whether it is new (201) or the existing one
    (200: a client coming back after a network blip or a reload)."""
    async with unit(svc) as u:
        user = await _owner(u, user_uri)
        existing = await u.tx.find_application(user.uri, cmd.endpoint_id)
        if existing is not None:
            same = (existing.culture, existing.user_agent, existing.type) == (
                cmd.culture,
                cmd.user_agent,
                cmd.type,
            )
            if same and cmd.instance_id in (None, existing.instance_id):
                await u.tx.update_application(existing.id, last_request_at=u.now)
                return existing, user, False
            # The endpoint restarted as a different client: the old instance is over.
            await end(u, existing, AppStatus.DELETED)
        for victim in await u.tx.applications_beyond(user.uri, svc.settings.max_applications_per_user - 1):
            await end(u, victim, AppStatus.EVICTED)
        app = Application(
            id=application_id_from(svc.random_bytes(8)),
            user_uri=user.uri,
            endpoint_id=cmd.endpoint_id,
            user_agent=cmd.user_agent,
            culture=cmd.culture,
            type=cmd.type,
            instance_id=cmd.instance_id,
            comm_key=str(uuid.UUID(bytes=svc.random_bytes(16), version=4)),
            created_at=u.now,
            last_request_at=u.now,
            supported_message_formats=("Plain", "Html") if svc.settings.html_messaging else ("Plain",),
        )
        await u.tx.add_application(app)
        return app, user, True


async def _owner(u: Unit, user_uri: str) -> User:
    user = await u.tx.get_user(user_uri)
    if user is None:  # removed while a token was still cached
        raise UcwaError(errors.FORBIDDEN, "The user no longer exists.")
    return user


async def end(u: Unit, app: Application, status: str) -> None:
    """Terminates an application (SPEC §7.3): its conversations end for everyone, queued events go,
    a pending P-GET is woken to fail."""
    await leaving.end_for_application(u, app)
    await subscriptions.end_for_application(u, app)
    await u.tx.update_application(app.id, status=status, ended_at=u.now, pget_owner=None, available=False)
    if app.available:  # watchers may now see the user Offline, or without Messaging
        await subscriptions.notify(u, app.user_uri, ["presence", "supportedMedia"])
    await u.tx.discard_queued(app.id)
    await u.tx.prune_batches(app.id, app.next_batch + 1)
    await u.bump(app.id)


async def get(svc: Services, app_id: str, user_uri: str) -> Application:
    async with unit(svc) as u:
        return await load(u, app_id, user_uri)


async def get_with_owner(svc: Services, app_id: str, user_uri: str) -> tuple[Application, User]:
    """The application and its owner's record in one unit: GET of the application and of ``me``,
    which every client asks for at sign-in and again when it comes back after a network blip."""
    async with unit(svc) as u:
        return await load(u, app_id, user_uri), await _owner(u, user_uri)


async def photo_owner(svc: Services, app_id: str, credential: str) -> str | None:
    """Whose photo cookie this is, for this application's photos (core.photo_credential)."""
    async with svc.store.transaction() as tx:
        app = await tx.get_application(app_id)
    if app is None or app.status != AppStatus.ACTIVE:
        return None
    ok = photo_credential.valid(credential, app.id, app.user_uri, app.comm_key, svc.clock())
    return app.user_uri if ok else None


@retrying
async def delete(svc: Services, app_id: str, user_uri: str) -> None:
    async with unit(svc) as u:
        app = await load(u, app_id, user_uri, for_update=True)
        await end(u, app, AppStatus.DELETED)


def _me_events(app: Application) -> list[Event]:
    a = AppLinks(app.id)
    me = a.me()
    return [
        Event("me", me, "updated", "me", me, Priority.MEDIUM),
        Event("me", me, "added", "presence", a.presence(), Priority.MEDIUM),
        Event("me", me, "added", "note", a.note(), Priority.MEDIUM),
        Event("me", me, "added", "location", a.location(), Priority.MEDIUM),
    ]


@retrying
async def make_me_available(svc: Services, app_id: str, user_uri: str, cmd: MakeMeAvailable) -> None:
    async with unit(svc) as u:
        app = await load(u, app_id, user_uri, for_update=True)
        if app.available:
            raise UcwaError(errors.ALREADY_EXISTS, "The application is already available.")
        fields = {
            "available": True,
            "supported_modalities": cmd.supported_modalities,
            "sign_in_as": cmd.sign_in_as,
            "inactive_timeout": cmd.inactive_timeout,
            "last_activity_at": u.now,
        }
        if cmd.supported_message_formats is not None:
            fields["supported_message_formats"] = cmd.supported_message_formats
        await u.tx.update_application(app.id, **fields)
        updated = await u.tx.get_application(app.id)
        assert updated is not None
        comm = res.communication(updated)
        a = AppLinks(app.id)
        events = _me_events(updated)
        events.append(
            Event(
                "communication",
                a.communication(),
                "updated",
                "communication",
                a.communication(),
                Priority.MEDIUM,
                embedded=comm,
            )
        )
        await u.emit(app.id, events)
        await subscriptions.notify(u, user_uri, ["presence", "supportedMedia"])


async def report_my_activity(svc: Services, app_id: str, user_uri: str) -> None:
    async with unit(svc) as u:
        app = await load(u, app_id, user_uri)
        if not app.available:
            raise UcwaError(errors.MAKE_ME_AVAILABLE_REQUIRED)
        await u.tx.update_application(app.id, last_activity_at=u.now)
