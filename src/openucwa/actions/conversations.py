"""What every conversation use case shares: loading a locked view, saving it, creating the
invitee's views, and failing an invitation (SPEC §14–§16).

Every action on a communication first locks its session row, then reads all views of it, changes
them through the state machines of ``core.machines``, and appends the events each application must
see, in the orders of SPEC §18. Views that end are deleted in the same transaction, after their
teardown events were queued.
"""

from __future__ import annotations

from ..core import errors
from ..core import presence as presence_model
from ..core import sequences as seq
from ..core.conversation import ConvView, Direction, Invitation, InvitationKind, Message
from ..core.errors import UcwaError
from ..core.hal import Json
from ..core.machines.conversation import ConversationState
from ..core.machines.invitation import InvitationTrigger
from ..core.models import Application
from ..core.resources import conversation as res
from . import access
from .services import Services, Unit, unit


def new_id(svc: Services) -> str:
    return svc.random_bytes(16).hex()


async def view(u: Unit, app: Application, conv_id: str, *, lock: bool = True) -> ConvView:
    """The application's view of a conversation, read again after its session is locked."""
    v = await u.tx.get_conversation(conv_id)
    if v is None or v.app_id != app.id:
        raise UcwaError(errors.NOT_FOUND, "The conversation does not exist.")
    if lock and not await u.tx.lock_session(v.session_id):
        raise UcwaError(errors.NOT_FOUND, "The conversation does not exist.")
    fresh = await u.tx.get_conversation(conv_id) if lock else v
    if fresh is None:
        raise UcwaError(errors.NOT_FOUND, "The conversation does not exist.")
    return fresh


async def find_invitation(u: Unit, app: Application, inv_id: str) -> tuple[ConvView, Invitation]:
    """The locked view holding an invitation of this application, and that invitation."""
    for v in await u.tx.list_conversations(app.id):
        if v.find_invitation(inv_id) is not None:
            locked = await view(u, app, v.id)
            inv = locked.find_invitation(inv_id)
            if inv is not None:
                return locked, inv
    raise UcwaError(errors.NOT_FOUND, "The invitation does not exist.")


async def save(u: Unit, v: ConvView) -> None:
    if v.ended:
        await u.tx.delete_conversation(v.id)
    else:
        await u.tx.put_conversation(v)


async def reachable(u: Unit, user: str) -> list[Application]:
    return presence_model.reachable(await u.tx.get_presence(user), await u.tx.list_applications(user))


def formats(svc: Services, apps: list[Application]) -> tuple[str, ...]:
    """Html only when the server allows it and every application taking part declared it."""
    html = svc.settings.html_messaging and all("Html" in a.supported_message_formats for a in apps)
    return ("Plain", "Html") if html else ("Plain",)


async def invite_devices(
    svc: Services, u: Unit, inviter: ConvView, target: str, targets: list[Application], inv: Invitation
) -> None:
    """Each of the invitee's reachable applications gets an Incoming view and its invitation."""
    for ta in targets:
        tv = ConvView(
            id=new_id(svc),
            app_id=ta.id,
            user_uri=target,
            session_id=inviter.session_id,
            thread_id=inviter.thread_id,
            direction=Direction.INCOMING,
            subject=inviter.subject,
            importance=inviter.importance,
            state=ConversationState.INCOMING,
            names=dict(inviter.names),
            remote=[inviter.user_uri],
            created_at=u.now,
            formats=formats(svc, [ta]),
        )
        tinv = Invitation(
            id=new_id(svc),
            direction=Direction.INCOMING,
            to_uri=target,
            from_uri=inviter.user_uri,
            message=inv.message,
            message_type=inv.message_type,
            started_at=inv.started_at,
            expires_at=inv.expires_at,
        )
        tv.invitations = [tinv]
        await u.emit(ta.id, seq.incoming_started(tv, tinv))
        await save(u, tv)


async def fail(u: Unit, v: ConvView, inv: Invitation, trigger: InvitationTrigger, why: Json) -> None:
    """Completes an invitation with Failure, then tears the view down (SPEC §16.6)."""
    inv.step(trigger)
    v.ended = True  # no cancel link any more
    await u.emit(
        v.app_id,
        [seq.invitation_event(v, inv, "completed", reason=why), *seq.teardown(v, u.now, remote=False)],
    )
    await save(u, v)


async def end_participant_invitation(
    u: Unit, host: ConvView, pinv: Invitation, trigger: InvitationTrigger, why: Json, theirs: Json | None
) -> None:
    """A participantInvitation fails: the inviter is told; pending invitee devices end (if ``theirs``)."""
    pinv.step(trigger)
    await u.emit(host.app_id, [seq.invitation_event(host, pinv, "completed", reason=why)])
    await save(u, host)
    if theirs is None:
        return
    for other in await u.tx.session_views(host.session_id):
        oinv = other.invitation
        if (
            other.user_uri == pinv.to_uri
            and other.state is ConversationState.INCOMING
            and oinv is not None
            and not oinv.done
        ):
            invitee = (
                InvitationTrigger.CANCEL if trigger is InvitationTrigger.CANCEL else InvitationTrigger.FAIL
            )
            await fail(u, other, oinv, invitee, theirs)


def pending_host(views: list[ConvView], mine: ConvView) -> tuple[ConvView, Invitation] | None:
    """The live view whose addParticipant invited this one, with that participantInvitation."""
    for x in views:
        if x.id == mine.id or not x.live:
            continue
        for pinv in x.invitations:
            if pinv.kind is InvitationKind.PARTICIPANT and not pinv.done and pinv.to_uri == mine.user_uri:
                return x, pinv
    return None


# ---------------------------------------------------------------------------------------------
# reads: no lock, nothing changes


async def read(svc: Services, app_id: str, user_uri: str, conv_id: str) -> ConvView:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        return await view(u, app, conv_id, lock=False)


async def conversations(svc: Services, app_id: str, user_uri: str) -> tuple[Application, list[ConvView]]:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        return app, [v for v in await u.tx.list_conversations(app.id) if not v.ended]


async def invitation(svc: Services, app_id: str, user_uri: str, inv_id: str, kind: InvitationKind) -> Json:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        for v in await u.tx.list_conversations(app.id):
            inv = v.find_invitation(inv_id)
            if inv is not None and inv.kind is kind:
                if kind is InvitationKind.PARTICIPANT:
                    return res.participant_invitation(v, inv)
                return res.invitation(v, inv)
    raise UcwaError(errors.NOT_FOUND, "The invitation does not exist.")


async def message(svc: Services, app_id: str, user_uri: str, conv_id: str, n: int) -> Json:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        v = await view(u, app, conv_id, lock=False)
        m = await u.tx.get_message(v.id, n)
        if m is None:
            raise UcwaError(errors.NOT_FOUND, "The message does not exist.")
        return res.message(v, m)


async def messages(
    svc: Services, app_id: str, user_uri: str, conv_id: str, before: int | None, limit: int
) -> tuple[ConvView, list[Message]]:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        v = await view(u, app, conv_id, lock=False)
        return v, await u.tx.list_messages(v.id, before, limit)
