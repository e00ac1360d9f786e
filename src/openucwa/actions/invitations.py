"""Inviting and answering (SPEC §13, §16, §17): startMessaging, addParticipant, accept, decline and
cancel, each one transaction, with the event orders of SPEC §18.5."""

from __future__ import annotations

from ..core import errors, reasons
from ..core import sequences as seq
from ..core.commands import AddParticipant, Decline, StartMessaging
from ..core.conversation import ConvView, Direction, Invitation, InvitationKind, Message
from ..core.errors import UcwaError
from ..core.machines.conversation import ConversationState, ConversationTrigger
from ..core.machines.invitation import INVITATION, InvitationTrigger
from ..core.machines.messaging import MessagingTrigger
from ..core.models import Application
from . import access, quotas
from .conversations import (
    end_participant_invitation,
    fail,
    find_invitation,
    formats,
    invite_devices,
    new_id,
    pending_host,
    reachable,
    save,
    view,
)
from .services import Services, Unit, retrying, unit


@retrying
async def start_messaging(svc: Services, app_id: str, user_uri: str, cmd: StartMessaging) -> str:
    """Returns the outgoing invitation's href (the 201's Location)."""
    await quotas.spend_invitation(svc, user_uri)
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        if cmd.thread_id and any(v.thread_id == cmd.thread_id for v in await u.tx.list_conversations(app.id)):
            raise UcwaError(errors.THREAD_ID_ALREADY_EXISTS)
        me = await u.tx.get_user(user_uri)
        them = await u.tx.get_user(cmd.to)
        names = {user_uri: me.name if me else user_uri}
        if them is not None:
            names[cmd.to] = them.name
        session = new_id(svc)
        await u.tx.add_session(session, u.now)
        inv = Invitation(
            id=new_id(svc),
            direction=Direction.OUTGOING,
            operation_id=cmd.operation_id,
            session_context=cmd.session_context,
            to_uri=cmd.to,
            from_uri=user_uri,
            message=cmd.message.text if cmd.message else None,
            message_type=cmd.message.content_type if cmd.message else "text/plain",
            started_at=u.now,
            expires_at=u.now + svc.settings.invitation_timeout,
        )
        v = ConvView(
            id=new_id(svc),
            app_id=app.id,
            user_uri=user_uri,
            session_id=session,
            thread_id=cmd.thread_id or new_id(svc),
            direction=Direction.OUTGOING,
            subject=cmd.subject,
            importance=cmd.importance,
            names=names,
            invitations=[inv],
            created_at=u.now,
            formats=formats(svc, [app]),
        )
        await u.emit(app.id, seq.outgoing_started(v, inv))
        targets = await reachable(u, cmd.to) if them is not None else []
        if not targets:
            why = reasons.NOT_FOUND if them is None else reasons.UNREACHABLE
            await fail(u, v, inv, InvitationTrigger.FAIL, why)
            await u.tx.delete_session(session)
            return v.links.invitation(inv.id)
        await invite_devices(svc, u, v, cmd.to, targets, inv)
        await save(u, v)
        await u.tx.set_session_deadline(session, inv.expires_at)
        return v.links.invitation(inv.id)


def _check_answerable(mine: ConvView, inv: Invitation, trigger: InvitationTrigger, verb: str) -> None:
    """Only a pending incoming invitation, not yet answered, can be accepted or declined."""
    if (
        inv.direction is not Direction.INCOMING
        or inv.answered
        or mine.ended
        or not INVITATION.allows(inv.state, trigger)
    ):
        raise UcwaError(errors.CONFLICT, f"The invitation cannot be {verb} now.")


@retrying
async def accept(svc: Services, app_id: str, user_uri: str, inv_id: str) -> None:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        mine, inv = await find_invitation(u, app, inv_id)
        _check_answerable(mine, inv, InvitationTrigger.ACCEPT, "accepted")
        views = await u.tx.session_views(mine.session_id)
        host = pending_host(views, mine)
        if host is not None:
            await _join_conference(svc, u, app, mine, inv, views, *host)
            return
        sender = next(
            (x for x in views if x.direction is Direction.OUTGOING and x.user_uri == inv.from_uri), None
        )
        if sender is None:
            raise UcwaError(errors.CONFLICT, "The invitation is no longer pending.")
        sapp = await u.tx.get_application(sender.app_id)
        fmts = formats(svc, [app] + ([sapp] if sapp else []))
        # the accepting side (SPEC §18.5 step 2, L channel)
        inv.answered = True
        events = [seq.invitation_event(mine, inv, "updated")]
        mine.step(ConversationTrigger.CONNECT)
        mine.step_messaging(MessagingTrigger.CONNECT)
        mine.formats = fmts
        mine.local_messaging = True
        mine.start_participant_messaging(sender.user_uri)
        events += [
            seq.messaging_event(mine),
            seq.conversation_event(mine, "updated"),
            seq.participant_messaging_event(mine, mine.user_uri, "added"),
            seq.participant_messaging_event(mine, sender.user_uri, "added"),
            seq.participant_event(mine, sender.user_uri, "updated"),
        ]
        inv.step(InvitationTrigger.ACCEPT)
        events.append(seq.invitation_event(mine, inv, "completed"))
        if inv.message is not None:
            m = Message(
                mine.id,
                mine.next_message,
                Direction.INCOMING,
                sender.user_uri,
                inv.message_type,
                inv.message,
                int(u.now * 1000),
            )
            mine.next_message += 1
            await u.tx.add_message(m)
            events.append(seq.message_event(mine, m))
        await u.emit(mine.app_id, events)
        await save(u, mine)
        await _connect_inviter(u, sender, mine, fmts)
        # everyone else who was invited: answered elsewhere
        for other in views:
            oinv = other.invitation
            if other.id in (mine.id, sender.id) or oinv is None or oinv.done:
                continue
            await fail(u, other, oinv, InvitationTrigger.FAIL, reasons.ELSEWHERE)
        await u.tx.set_session_deadline(mine.session_id, None)


async def _connect_inviter(u: Unit, sender: ConvView, mine: ConvView, fmts: tuple[str, ...]) -> None:
    """The inviting side learns of the accept (SPEC §18.5 step 2, T channel)."""
    sinv = sender.invitation
    assert sinv is not None  # an outgoing view is created with its invitation
    sender.step(ConversationTrigger.CONNECT)
    sender.add_participant(mine.user_uri)
    sender.start_participant_messaging(mine.user_uri)
    sender.local_messaging = True
    sender.step_messaging(MessagingTrigger.CONNECT)
    sender.formats = fmts
    sender.names.setdefault(mine.user_uri, mine.name(mine.user_uri))
    sevents = [
        seq.conversation_event(sender, "updated"),
        seq.participant_event(sender, mine.user_uri, "added"),
        seq.participant_messaging_event(sender, mine.user_uri, "added"),
        seq.participant_messaging_event(sender, sender.user_uri, "added"),
        seq.messaging_event(sender),
    ]
    sinv.step(InvitationTrigger.ACCEPT)
    sevents.append(seq.invitation_event(sender, sinv, "completed"))
    if sinv.message is not None:
        await u.tx.add_message(
            Message(
                sender.id,
                sender.next_message,
                Direction.OUTGOING,
                sender.user_uri,
                sinv.message_type,
                sinv.message,
                int(u.now * 1000),
                sinv.operation_id,
            )
        )
        sender.next_message += 1
    await u.emit(sender.app_id, sevents)
    await save(u, sender)


async def _join_conference(
    svc: Services,
    u: Unit,
    app: Application,
    mine: ConvView,
    inv: Invitation,
    views: list[ConvView],
    host: ConvView,
    pinv: Invitation,
) -> None:
    """The invitee of addParticipant accepts (SPEC §17): it joins everyone already there."""
    members = [x for x in views if x.id != mine.id and x.live]
    apps = [a for a in [await u.tx.get_application(x.app_id) for x in members] if a is not None]
    fmts = formats(svc, [app, *apps])
    inv.answered = True
    events = [seq.invitation_event(mine, inv, "updated")]
    mine.step(ConversationTrigger.JOIN)
    mine.step_messaging(MessagingTrigger.CONNECT)
    mine.formats = fmts
    mine.local_messaging = True
    for x in members:
        mine.names.setdefault(x.user_uri, x.name(x.user_uri))
    events += [seq.messaging_event(mine), seq.conversation_event(mine, "updated")]
    for x in members:
        if x.user_uri not in mine.remote:
            mine.add_participant(x.user_uri)
            events.append(seq.participant_event(mine, x.user_uri, "added"))
    events.append(seq.participant_messaging_event(mine, mine.user_uri, "added"))
    for user in list(mine.remote):
        mine.start_participant_messaging(user)
        events.append(seq.participant_messaging_event(mine, user, "added"))
    inv.step(InvitationTrigger.ACCEPT)
    events.append(seq.invitation_event(mine, inv, "completed"))
    await u.emit(mine.app_id, events)
    await save(u, mine)
    for x in members:
        x.names.setdefault(mine.user_uri, mine.name(mine.user_uri))
        x.add_participant(mine.user_uri)
        x.start_participant_messaging(mine.user_uri)
        xevents = [
            seq.participant_event(x, mine.user_uri, "added"),
            seq.participant_messaging_event(x, mine.user_uri, "added"),
        ]
        if x.id == host.id:
            hp = x.find_invitation(pinv.id)
            assert hp is not None  # pending_host found it on this very view
            hp.step(InvitationTrigger.ACCEPT)
            xevents.append(seq.invitation_event(x, hp, "completed"))
        await u.emit(x.app_id, xevents)
        await save(u, x)
    for other in views:  # the invitee's other devices
        oinv = other.invitation
        if other.id != mine.id and other.user_uri == mine.user_uri and oinv is not None and not oinv.done:
            await fail(u, other, oinv, InvitationTrigger.FAIL, reasons.ELSEWHERE)


@retrying
async def add_participant(svc: Services, app_id: str, user_uri: str, cmd: AddParticipant) -> str:
    """Returns the participantInvitation's href (the 201's Location)."""
    await quotas.spend_invitation(svc, user_uri)
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        v = await view(u, app, cmd.conversation)
        if not v.live:
            raise UcwaError(errors.CONFLICT, "Participants can be added to a connected conversation only.")
        if cmd.to in v.remote:
            raise errors.invalid({"to": "AlreadyParticipant"}, "That person is already in the conversation.")
        pinv = Invitation(
            id=new_id(svc),
            direction=Direction.OUTGOING,
            kind=InvitationKind.PARTICIPANT,
            operation_id=cmd.operation_id,
            to_uri=cmd.to,
            from_uri=user_uri,
            started_at=u.now,
            expires_at=u.now + svc.settings.invitation_timeout,
        )
        v.invitations.append(pinv)
        await u.emit(v.app_id, [seq.invitation_event(v, pinv, "started")])
        for x in await u.tx.session_views(v.session_id):  # the first escalation makes a conference
            x = v if x.id == v.id else x
            if x.state is ConversationState.CONNECTED:
                x.step(ConversationTrigger.ESCALATE)
                await u.emit(x.app_id, [seq.conversation_event(x, "updated")])
                if x.id != v.id:
                    await save(u, x)
        them = await u.tx.get_user(cmd.to)
        targets = []
        if them is not None:
            v.names[cmd.to] = them.name
            targets = await reachable(u, cmd.to)
        if not targets:
            pinv.step(InvitationTrigger.FAIL)
            why = reasons.NOT_FOUND if them is None else reasons.UNREACHABLE
            await u.emit(v.app_id, [seq.invitation_event(v, pinv, "completed", reason=why)])
            await save(u, v)
            return v.links.participant_invitation(pinv.id)
        await invite_devices(svc, u, v, cmd.to, targets, pinv)
        await save(u, v)
        await u.tx.advance_session_deadline(v.session_id, pinv.expires_at)
        return v.links.participant_invitation(pinv.id)


@retrying
async def cancel_participant(svc: Services, app_id: str, user_uri: str, pinv_id: str) -> None:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        v, pinv = await find_invitation(u, app, pinv_id)
        if pinv.kind is not InvitationKind.PARTICIPANT or pinv.done:
            raise UcwaError(errors.CONFLICT, "The invitation is no longer pending.")
        await end_participant_invitation(
            u, v, pinv, InvitationTrigger.CANCEL, reasons.CANCELED_LOCALLY, reasons.CANCELED_BY_REMOTE
        )


@retrying
async def decline(svc: Services, app_id: str, user_uri: str, inv_id: str, cmd: Decline) -> None:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        mine, inv = await find_invitation(u, app, inv_id)
        _check_answerable(mine, inv, InvitationTrigger.DECLINE, "declined")
        await decline_view(u, mine, cmd.everywhere)


async def decline_view(u: Unit, mine: ConvView, everywhere: bool) -> None:
    """One device declines; the inviter hears of it once no invited device is left pending."""
    inv = mine.invitation
    assert inv is not None  # only incoming views, created with their invitation, get here
    views = await u.tx.session_views(mine.session_id)
    host = pending_host(views, mine)
    await fail(u, mine, inv, InvitationTrigger.DECLINE, reasons.DECLINED_LOCALLY)
    if host is not None:
        still = [
            x
            for x in views
            if x.id != mine.id and x.user_uri == mine.user_uri and x.state is ConversationState.INCOMING
        ]
        if everywhere or not still:
            theirs = reasons.DECLINED_LOCALLY if everywhere else None
            await end_participant_invitation(
                u, *host, InvitationTrigger.DECLINE, reasons.DECLINED_BY_REMOTE, theirs
            )
        return
    views = await u.tx.session_views(mine.session_id)
    pending = [
        x for x in views if x.direction is Direction.INCOMING and x.invitation and not x.invitation.done
    ]
    if everywhere:
        for other in pending:
            assert other.invitation is not None  # filtered just above
            await fail(u, other, other.invitation, InvitationTrigger.DECLINE, reasons.DECLINED_LOCALLY)
        pending = []
    if not pending:
        for sender in views:
            sinv = sender.invitation
            if sender.direction is Direction.OUTGOING and sinv is not None and not sinv.done:
                await fail(u, sender, sinv, InvitationTrigger.DECLINE, reasons.DECLINED_BY_REMOTE)
        await u.tx.delete_session(mine.session_id)


async def cancel(u: Unit, sender: ConvView) -> None:
    """The inviter withdraws an unanswered invitation: every invited device is told."""
    sinv = sender.invitation
    assert sinv is not None  # an outgoing view is created with its invitation
    await fail(u, sender, sinv, InvitationTrigger.CANCEL, reasons.CANCELED_LOCALLY)
    for other in await u.tx.session_views(sender.session_id):
        oinv = other.invitation
        if other.direction is Direction.INCOMING and oinv is not None and not oinv.done:
            await fail(u, other, oinv, InvitationTrigger.CANCEL, reasons.CANCELED_BY_REMOTE)
    await u.tx.delete_session(sender.session_id)
