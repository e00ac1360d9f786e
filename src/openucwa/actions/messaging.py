"""Conversations and instant messaging (SPEC §13–§18): one transaction per action.

Every action on a communication first locks its session row, then reads all views of it, changes
them, and appends the events each application must see, in the orders of SPEC §18. Views that end
are deleted in the same transaction, after their teardown events were queued.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..core import commands, errors, reasons
from ..core import conversation as res
from ..core import presence as presence_model
from ..core import sequences as seq
from ..core.conversation import LIVE, ConvView, Invitation, Message, State
from ..core.datauri import decode
from ..core.errors import UcwaError
from ..core.hal import Json
from ..core.ids import normalize_user
from ..core.models import Application
from . import access
from .services import Services, Unit, retrying, unit

IMPORTANCE = ("Normal", "Urgent", "Emergency")
TEXT_TYPES = ("text/plain", "text/html")


def _hex(svc: Services) -> str:
    return svc.random_bytes(16).hex()


# ---------------------------------------------------------------------------------------------
# loading


async def _view(u: Unit, app: Application, conv_id: str, *, lock: bool = True) -> ConvView:
    v = await u.tx.get_conversation(conv_id)
    if v is None or v.app_id != app.id:
        raise UcwaError(errors.NOT_FOUND, "The conversation does not exist.")
    if lock and not await u.tx.lock_session(v.session_id):
        raise UcwaError(errors.NOT_FOUND, "The conversation does not exist.")
    fresh = await u.tx.get_conversation(conv_id) if lock else v
    if fresh is None:
        raise UcwaError(errors.NOT_FOUND, "The conversation does not exist.")
    return fresh


async def _find_invitation(u: Unit, app: Application, inv_id: str) -> tuple[ConvView, Invitation]:
    for v in await u.tx.list_conversations(app.id):
        for inv in v.invitations:
            if inv.id == inv_id:
                return await _view(u, app, v.id), inv
    raise UcwaError(errors.NOT_FOUND, "The invitation does not exist.")


async def _save(u: Unit, v: ConvView) -> None:
    if v.ended:
        await u.tx.delete_conversation(v.id)
    else:
        await u.tx.put_conversation(v)


def _inv(v: ConvView, inv_id: str) -> Invitation:
    return next(i for i in v.invitations if i.id == inv_id)


# ---------------------------------------------------------------------------------------------
# startMessaging


@retrying
async def start_messaging(svc: Services, app_id: str, user_uri: str, data: dict[str, Any]) -> str:
    d = commands.fold(data)
    links = d.get("_links")
    if "message" not in d and isinstance(links, dict):
        msg = commands.fold(links).get("message")
        if isinstance(msg, dict) and isinstance(msg.get("href"), str):
            d["message"] = msg["href"]
    to_raw = commands.text(d, "to", required=True, max_len=512) or ""
    target = normalize_user(to_raw)
    if target is None:
        raise errors.invalid({"to": "Invalid"}, "to must be a SIP URI.")
    if target == user_uri:
        raise errors.invalid({"to": "Invalid"}, "You cannot invite yourself.")
    subject = commands.text(d, "subject", required=False, max_len=250)
    imp = commands.text(d, "importance", required=False, max_len=20)
    importance = commands.choice(imp, IMPORTANCE, "importance") if imp else "Normal"
    thread = commands.text(d, "threadId", required=False, max_len=250)
    operation_id = commands.text(d, "operationId", required=False, max_len=50)
    context = commands.text(d, "sessionContext", required=False, max_len=256)
    first: tuple[str, str] | None = None
    raw_message = d.get("message")
    if raw_message not in (None, ""):
        if not isinstance(raw_message, str):
            raise errors.invalid({"message": "Invalid"})
        try:
            first = decode(raw_message)
        except ValueError:
            raise errors.invalid(
                {"message": "Invalid"}, "The first message is not a valid data URI."
            ) from None
        if first[1] not in TEXT_TYPES:
            raise errors.invalid({"message": "Invalid"}, "The first message must be text/plain or text/html.")
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        thread_id = thread or _hex(svc)
        if thread and any(v.thread_id == thread for v in await u.tx.list_conversations(app.id)):
            raise UcwaError(errors.THREAD_ID_ALREADY_EXISTS)
        me = await u.tx.get_user(user_uri)
        them = await u.tx.get_user(target)
        names = {user_uri: me.name if me else user_uri}
        if them is not None:
            names[target] = them.name
        session = _hex(svc)
        await u.tx.add_session(session, u.now)
        inv = Invitation(
            id=_hex(svc),
            direction="Outgoing",
            operation_id=operation_id,
            session_context=context,
            to_uri=target,
            from_uri=user_uri,
            message=first[0] if first else None,
            message_type=first[1] if first else "text/plain",
            started_at=u.now,
            expires_at=u.now + svc.settings.invitation_timeout,
        )
        v = ConvView(
            id=_hex(svc),
            app_id=app.id,
            user_uri=user_uri,
            session_id=session,
            thread_id=thread_id,
            direction="Outgoing",
            subject=subject,
            importance=importance,
            names=names,
            invitations=[inv],
            created_at=u.now,
            formats=_formats(svc, [app]),
        )
        await u.emit(app.id, seq.outgoing_started(v, inv))
        targets = []
        if them is not None:
            targets = await _reachable(u, target)
        if them is None or not targets:
            await _fail(u, v, inv, "Failed", reasons.NOT_FOUND if them is None else reasons.UNREACHABLE)
            await u.tx.delete_session(session)
            return v.links.invitation(inv.id)
        for ta in targets:
            tv = ConvView(
                id=_hex(svc),
                app_id=ta.id,
                user_uri=target,
                session_id=session,
                thread_id=thread_id,
                direction="Incoming",
                subject=subject,
                importance=importance,
                state=State.INCOMING,
                names=dict(names),
                remote=[user_uri],
                created_at=u.now,
                formats=_formats(svc, [ta]),
            )
            tinv = replace(inv, id=_hex(svc), direction="Incoming", operation_id=None, session_context=None)
            tv.invitations = [tinv]
            await u.emit(ta.id, seq.incoming_started(tv, tinv))
            await _save(u, tv)
        await _save(u, v)
        await u.tx.set_session_deadline(session, inv.expires_at)
        return v.links.invitation(inv.id)


async def _reachable(u: Unit, user: str) -> list[Application]:
    return presence_model.reachable(await u.tx.get_presence(user), await u.tx.list_applications(user))


def _formats(svc: Services, apps: list[Application]) -> tuple[str, ...]:
    html = svc.settings.html_messaging and all("Html" in a.supported_message_formats for a in apps)
    return ("Plain", "Html") if html else ("Plain",)


async def _fail(u: Unit, v: ConvView, inv: Invitation, state: str, why: Json) -> None:
    """Completes an invitation with Failure, then tears the view down (SPEC §16.6)."""
    inv.state = state
    inv.done = True
    v.ended = True  # no cancel link any more
    await u.emit(
        v.app_id,
        [seq.invitation_event(v, inv, "completed", reason=why), *seq.teardown(v, u.now, remote=False)],
    )
    await _save(u, v)


# ---------------------------------------------------------------------------------------------
# accept / decline / cancel


@retrying
async def accept(svc: Services, app_id: str, user_uri: str, inv_id: str) -> None:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        mine, _ = await _find_invitation(u, app, inv_id)
        inv = _inv(mine, inv_id)
        if inv.direction != "Incoming" or inv.state != State.CONNECTING or inv.answered or mine.ended:
            raise UcwaError(errors.CONFLICT, "The invitation cannot be accepted now.")
        views = await u.tx.session_views(mine.session_id)
        host = _pending_host(views, mine)
        if host is not None:
            await _join_conference(svc, u, app, mine, inv, views, *host)
            return
        sender = next((x for x in views if x.direction == "Outgoing" and x.user_uri == inv.from_uri), None)
        if sender is None:
            raise UcwaError(errors.CONFLICT, "The invitation is no longer pending.")
        sapp = await u.tx.get_application(sender.app_id)
        fmts = _formats(svc, [app] + ([sapp] if sapp else []))
        # the accepting side (SPEC §18.5 step 2, L channel)
        inv.answered = True
        events = [seq.invitation_event(mine, inv, "updated")]
        mine.state = State.CONNECTED
        mine.messaging = State.CONNECTED
        mine.formats = fmts
        mine.local_messaging = True
        mine.remote_messaging = [sender.user_uri]
        events += [
            seq.messaging_event(mine),
            seq.conversation_event(mine, "updated"),
            seq.participant_messaging_event(mine, mine.user_uri, "added"),
            seq.participant_messaging_event(mine, sender.user_uri, "added"),
            seq.participant_event(mine, sender.user_uri, "updated"),
        ]
        inv.state = State.CONNECTED
        inv.done = True
        events.append(seq.invitation_event(mine, inv, "completed"))
        if inv.message is not None:
            m = Message(
                mine.id,
                mine.next_message,
                "Incoming",
                sender.user_uri,
                inv.message_type,
                inv.message,
                int(u.now * 1000),
            )
            mine.next_message += 1
            await u.tx.add_message(m)
            events.append(seq.message_event(mine, m))
        await u.emit(mine.app_id, events)
        await _save(u, mine)
        # the inviting side (SPEC §18.5 step 2, T channel)
        sinv = sender.invitation
        assert sinv is not None
        sender.state = State.CONNECTED
        sender.remote = [mine.user_uri]
        sender.remote_messaging = [mine.user_uri]
        sender.local_messaging = True
        sender.messaging = State.CONNECTED
        sender.formats = fmts
        sender.names.setdefault(mine.user_uri, mine.name(mine.user_uri))
        sevents = [
            seq.conversation_event(sender, "updated"),
            seq.participant_event(sender, mine.user_uri, "added"),
            seq.participant_messaging_event(sender, mine.user_uri, "added"),
            seq.participant_messaging_event(sender, sender.user_uri, "added"),
            seq.messaging_event(sender),
        ]
        sinv.state = State.CONNECTED
        sinv.done = True
        sevents.append(seq.invitation_event(sender, sinv, "completed"))
        if sinv.message is not None:
            await u.tx.add_message(
                Message(
                    sender.id,
                    sender.next_message,
                    "Outgoing",
                    sender.user_uri,
                    sinv.message_type,
                    sinv.message,
                    int(u.now * 1000),
                    sinv.operation_id,
                )
            )
            sender.next_message += 1
        await u.emit(sender.app_id, sevents)
        await _save(u, sender)
        # everyone else who was invited: answered elsewhere
        for other in views:
            oinv = other.invitation
            if other.id in (mine.id, sender.id) or oinv is None or oinv.done:
                continue
            await _fail(u, other, oinv, "Failed", reasons.ELSEWHERE)
        await u.tx.set_session_deadline(mine.session_id, None)


def _pending_host(views: list[ConvView], mine: ConvView) -> tuple[ConvView, Invitation] | None:
    """The live view whose addParticipant invited this one, with that participantInvitation."""
    for x in views:
        if x.id == mine.id or x.state not in LIVE:
            continue
        for pinv in x.invitations:
            if pinv.kind == "participant" and not pinv.done and pinv.to_uri == mine.user_uri:
                return x, pinv
    return None


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
    members = [x for x in views if x.id != mine.id and x.state in LIVE]
    apps = [a for a in [await u.tx.get_application(x.app_id) for x in members] if a is not None]
    fmts = _formats(svc, [app, *apps])
    inv.answered = True
    events = [seq.invitation_event(mine, inv, "updated")]
    mine.state = State.CONFERENCED
    mine.messaging = State.CONNECTED
    mine.formats = fmts
    mine.local_messaging = True
    for x in members:
        mine.names.setdefault(x.user_uri, x.name(x.user_uri))
    newcomers = [x.user_uri for x in members if x.user_uri not in mine.remote]
    events += [seq.messaging_event(mine), seq.conversation_event(mine, "updated")]
    for user in newcomers:
        mine.remote.append(user)
        events.append(seq.participant_event(mine, user, "added"))
    events.append(seq.participant_messaging_event(mine, mine.user_uri, "added"))
    for user in mine.remote:
        mine.remote_messaging.append(user)
        events.append(seq.participant_messaging_event(mine, user, "added"))
    inv.state = State.CONNECTED
    inv.done = True
    events.append(seq.invitation_event(mine, inv, "completed"))
    await u.emit(mine.app_id, events)
    await _save(u, mine)
    for x in members:
        x.names.setdefault(mine.user_uri, mine.name(mine.user_uri))
        x.remote.append(mine.user_uri)
        x.remote_messaging.append(mine.user_uri)
        xevents = [
            seq.participant_event(x, mine.user_uri, "added"),
            seq.participant_messaging_event(x, mine.user_uri, "added"),
        ]
        if x.id == host.id:
            hp = next(i for i in x.invitations if i.id == pinv.id)
            hp.state = State.CONNECTED
            hp.done = True
            xevents.append(seq.invitation_event(x, hp, "completed"))
        await u.emit(x.app_id, xevents)
        await _save(u, x)
    for other in views:  # the invitee's other devices
        oinv = other.invitation
        if other.id != mine.id and other.user_uri == mine.user_uri and oinv is not None and not oinv.done:
            await _fail(u, other, oinv, "Failed", reasons.ELSEWHERE)


@retrying
async def add_participant(
    svc: Services, app_id: str, user_uri: str, conv_id: str, data: dict[str, Any]
) -> str:
    d = commands.fold(data)
    to_raw = commands.text(d, "to", required=True, max_len=512) or ""
    target = normalize_user(to_raw)
    if target is None:
        raise errors.invalid({"to": "Invalid"}, "to must be a SIP URI.")
    if target == user_uri:
        raise errors.invalid({"to": "Invalid"}, "You cannot invite yourself.")
    operation_id = commands.text(d, "operationId", required=False, max_len=50)
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        v = await _view(u, app, conv_id)
        if v.state not in LIVE:
            raise UcwaError(errors.CONFLICT, "Participants can be added to a connected conversation only.")
        if target in v.remote:
            raise errors.invalid({"to": "AlreadyParticipant"}, "That person is already in the conversation.")
        pinv = Invitation(
            id=_hex(svc),
            direction="Outgoing",
            kind="participant",
            operation_id=operation_id,
            to_uri=target,
            from_uri=user_uri,
            started_at=u.now,
            expires_at=u.now + svc.settings.invitation_timeout,
        )
        v.invitations.append(pinv)
        await u.emit(v.app_id, [seq.invitation_event(v, pinv, "started")])
        views = await u.tx.session_views(v.session_id)
        for x in views:  # the first escalation turns the conversation into a conference
            x = v if x.id == v.id else x
            if x.state == State.CONNECTED:
                x.state = State.CONFERENCED
                await u.emit(x.app_id, [seq.conversation_event(x, "updated")])
                if x.id != v.id:
                    await _save(u, x)
        them = await u.tx.get_user(target)
        targets = []
        if them is not None:
            v.names[target] = them.name
            targets = await _reachable(u, target)
        if them is None or not targets:
            pinv.state = "Failed"
            pinv.done = True
            why = reasons.NOT_FOUND if them is None else reasons.UNREACHABLE
            await u.emit(v.app_id, [seq.invitation_event(v, pinv, "completed", reason=why)])
            await _save(u, v)
            return v.links.participant_invitation(pinv.id)
        for ta in targets:
            tv = ConvView(
                id=_hex(svc),
                app_id=ta.id,
                user_uri=target,
                session_id=v.session_id,
                thread_id=v.thread_id,
                direction="Incoming",
                subject=v.subject,
                importance=v.importance,
                state=State.INCOMING,
                names=dict(v.names),
                remote=[user_uri],
                created_at=u.now,
                formats=_formats(svc, [ta]),
            )
            tinv = Invitation(
                id=_hex(svc), direction="Incoming", to_uri=target, from_uri=user_uri, started_at=u.now
            )
            tv.invitations = [tinv]
            await u.emit(ta.id, seq.incoming_started(tv, tinv))
            await _save(u, tv)
        await _save(u, v)
        await u.tx.advance_session_deadline(v.session_id, u.now + svc.settings.invitation_timeout)
        return v.links.participant_invitation(pinv.id)


@retrying
async def cancel_participant(svc: Services, app_id: str, user_uri: str, pinv_id: str) -> None:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        v, _ = await _find_invitation(u, app, pinv_id)
        pinv = _inv(v, pinv_id)
        if pinv.kind != "participant" or pinv.done:
            raise UcwaError(errors.CONFLICT, "The invitation is no longer pending.")
        await _end_participant_invitation(
            u, v, pinv, "Cancelled", reasons.CANCELED_LOCALLY, reasons.CANCELED_BY_REMOTE
        )


async def _end_participant_invitation(
    u: Unit, host: ConvView, pinv: Invitation, state: str, why: Json, theirs: Json | None
) -> None:
    """A participantInvitation fails: the inviter is told; pending invitee devices end (if ``theirs``)."""
    pinv.state = state
    pinv.done = True
    await u.emit(host.app_id, [seq.invitation_event(host, pinv, "completed", reason=why)])
    await _save(u, host)
    if theirs is None:
        return
    for other in await u.tx.session_views(host.session_id):
        oinv = other.invitation
        if (
            other.user_uri == pinv.to_uri
            and other.state == State.INCOMING
            and oinv is not None
            and not oinv.done
        ):
            await _fail(u, other, oinv, "Cancelled" if state == "Cancelled" else "Failed", theirs)


@retrying
async def decline(svc: Services, app_id: str, user_uri: str, inv_id: str, data: dict[str, Any]) -> None:
    why = commands.fold(data).get("reason")
    global_ = isinstance(why, str) and why.lower() == "global"
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        mine, _ = await _find_invitation(u, app, inv_id)
        inv = _inv(mine, inv_id)
        if inv.direction != "Incoming" or inv.state != State.CONNECTING or inv.answered or mine.ended:
            raise UcwaError(errors.CONFLICT, "The invitation cannot be declined now.")
        await _decline_view(u, mine, global_)


async def _decline_view(u: Unit, mine: ConvView, global_: bool) -> None:
    inv = mine.invitation
    assert inv is not None
    views = await u.tx.session_views(mine.session_id)
    host = _pending_host(views, mine)
    await _fail(u, mine, inv, "Declined", reasons.DECLINED_LOCALLY)
    if host is not None:
        still = [
            x for x in views if x.id != mine.id and x.user_uri == mine.user_uri and x.state == State.INCOMING
        ]
        if global_ or not still:
            await _end_participant_invitation(
                u,
                *host,
                "Declined",
                reasons.DECLINED_BY_REMOTE,
                None if not global_ else reasons.DECLINED_LOCALLY,
            )
        return
    views = await u.tx.session_views(mine.session_id)
    pending = [x for x in views if x.direction == "Incoming" and x.invitation and not x.invitation.done]
    if global_:
        for other in pending:
            assert other.invitation is not None
            await _fail(u, other, other.invitation, "Declined", reasons.DECLINED_LOCALLY)
        pending = []
    if not pending:
        for sender in views:
            sinv = sender.invitation
            if sender.direction == "Outgoing" and sinv is not None and not sinv.done:
                await _fail(u, sender, sinv, "Declined", reasons.DECLINED_BY_REMOTE)
        await u.tx.delete_session(mine.session_id)


async def _cancel(u: Unit, sender: ConvView) -> None:
    sinv = sender.invitation
    assert sinv is not None
    await _fail(u, sender, sinv, "Cancelled", reasons.CANCELED_LOCALLY)
    for other in await u.tx.session_views(sender.session_id):
        oinv = other.invitation
        if other.direction == "Incoming" and oinv is not None and not oinv.done:
            await _fail(u, other, oinv, "Cancelled", reasons.CANCELED_BY_REMOTE)
    await u.tx.delete_session(sender.session_id)


# ---------------------------------------------------------------------------------------------
# leaving


@retrying
async def stop(svc: Services, app_id: str, user_uri: str, conv_id: str) -> None:
    """stopMessaging, DELETE conversation and the outgoing invitation's cancel (SPEC §15.8, §14.2)."""
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        v = await _view(u, app, conv_id)
        await leave(u, v)


async def leave(u: Unit, v: ConvView) -> None:
    inv = v.invitation
    if v.state == State.CONNECTING and inv is not None and inv.direction == "Outgoing" and not inv.done:
        await _cancel(u, v)
        return
    if v.state == State.INCOMING and inv is not None and not inv.done:
        await _decline_view(u, v, False)
        return
    others = [x for x in await u.tx.session_views(v.session_id) if x.id != v.id and x.state in LIVE]
    await u.emit(v.app_id, seq.teardown(v, u.now, remote=False))
    await _save(u, v)
    if len(others) <= 1:
        for other in others:
            await u.emit(other.app_id, seq.teardown(other, u.now, remote=True))
            await _save(u, other)
        await u.tx.delete_session(v.session_id)
        return
    for other in others:  # a conference goes on without the leaver (SPEC §17)
        events = []
        if v.user_uri in other.typing:
            other.typing.pop(v.user_uri)
            events.append(seq.typing_event(other, v.user_uri, "deleted"))
        if v.user_uri in other.remote_messaging:
            events.append(seq.participant_messaging_event(other, v.user_uri, "deleted"))
            other.remote_messaging.remove(v.user_uri)
        if v.user_uri in other.remote:
            events.append(seq.participant_event(other, v.user_uri, "deleted"))
            other.remote.remove(v.user_uri)
        await u.emit(other.app_id, events)
        await _save(u, other)


async def end_for_application(u: Unit, app: Application) -> None:
    """The application is gone (deleted, expired, evicted, reset): its conversations end."""
    for v in await u.tx.list_conversations(app.id):
        if await u.tx.lock_session(v.session_id):
            fresh = await u.tx.get_conversation(v.id)
            if fresh is not None:
                await leave(u, fresh)
        else:
            await u.tx.delete_conversation(v.id)


# ---------------------------------------------------------------------------------------------
# messages


@retrying
async def send_message(
    svc: Services,
    app_id: str,
    user_uri: str,
    conv_id: str,
    text: str,
    content_type: str,
    operation_id: str | None,
) -> str:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        v = await _view(u, app, conv_id)
        if v.messaging != State.CONNECTED:
            raise UcwaError(errors.CONFLICT, "Messaging is not connected.")
        if content_type == "text/html" and "Html" not in v.formats:
            raise errors.invalid({"Content-Type": "Invalid"}, "HTML messages were not negotiated.")
        n = v.next_message
        v.next_message += 1
        ts = int(u.now * 1000)
        out = Message(v.id, n, "Outgoing", user_uri, content_type, text, ts, operation_id, status="Pending")
        await u.tx.add_message(out)
        for other in await u.tx.session_views(v.session_id):
            if other.id == v.id or other.messaging != State.CONNECTED:
                continue
            m = Message(other.id, other.next_message, "Incoming", user_uri, content_type, text, ts)
            other.next_message += 1
            await u.tx.add_message(m)
            events = []
            if other.typing.pop(user_uri, 0) > u.now:
                events.append(seq.typing_event(other, user_uri, "deleted"))
            receipt = {"session": v.session_id, "conv": v.id, "n": n, "user": other.user_uri}
            events.append(seq.message_event(other, m, receipt=receipt))
            await u.emit(other.app_id, events)
            await _save(u, other)
        await _save(u, v)
        return v.links.message(n)


async def confirm(svc: Services, receipts: list[Json]) -> None:
    """Recipients fetched these message events: the senders learn it (SPEC §15.3)."""
    for r in receipts:
        await _settle(svc, r, delivered=True)


async def expire_deliveries(svc: Services) -> None:
    """Message events not fetched in time are withdrawn; the sender gets Failure (SPEC §15.3)."""
    async with unit(svc) as u:
        overdue = await u.tx.take_overdue_receipts(u.now - svc.settings.message_delivery_timeout)
    for _app, r in overdue:
        await _settle(svc, r, delivered=False)


@retrying
async def _settle(svc: Services, r: Json, *, delivered: bool) -> None:
    async with unit(svc) as u:
        if await u.tx.lock_session(r["session"]):
            await _complete(u, r, delivered=delivered)


async def settle_delivered(u: Unit, receipts: list[Json]) -> list[Json]:
    """The recipients' batch holding these messages is being produced in ``u``: the senders'
    messages complete in the same transaction (SPEC §15.3). Returns those left for ``confirm``
    after the commit, whose communication another transaction holds: ``u`` already holds the
    recipient's application, and waiting for the communication would take locks in the opposite
    order to sending."""
    later = []
    for r in receipts:
        locked = await u.tx.try_lock_session(r["session"])
        if locked is None:
            later.append(r)
        elif locked:
            await _complete(u, r, delivered=True)
    return later


async def _complete(u: Unit, r: Json, *, delivered: bool) -> None:
    """Completes the sender's message once: Success on the first delivery, else Failure."""
    v = await u.tx.get_conversation(r["conv"])
    m = await u.tx.get_message(r["conv"], r["n"])
    if v is None or m is None or m.status != "Pending":
        return
    if delivered:
        done, why = replace(m, status="Succeeded"), None
    else:
        done, why = replace(m, status="Failed", failed=(*m.failed, r["user"])), reasons.DELIVERY_TIMEOUT
    await u.tx.update_message(m.conv_id, m.n, status=done.status, failed=done.failed)
    await u.emit(v.app_id, [seq.message_event(v, done, reason=why)])


@retrying
async def set_typing(svc: Services, app_id: str, user_uri: str, conv_id: str) -> None:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        v = await _view(u, app, conv_id)
        if v.messaging != State.CONNECTED:
            raise UcwaError(errors.CONFLICT, "Messaging is not connected.")
        until = u.now + svc.settings.typing_timeout
        for other in await u.tx.session_views(v.session_id):
            if other.id == v.id or other.messaging != State.CONNECTED:
                continue
            if other.typing.get(user_uri, 0) <= u.now:
                await u.emit(other.app_id, [seq.typing_event(other, user_uri, "added")])
            other.typing[user_uri] = until
            await _save(u, other)
        await u.tx.advance_session_deadline(v.session_id, until)


async def tick(svc: Services) -> None:
    """Timers: unanswered invitations time out, typing indicators expire."""
    async with svc.store.transaction() as tx:
        due = await tx.due_sessions(svc.clock())
    for session in due:
        await _tick_session(svc, session)


@retrying
async def _tick_session(svc: Services, session: str) -> None:
    async with unit(svc) as u:
        if not await u.tx.lock_session(session):
            return
        views = await u.tx.session_views(session)
        deadlines: list[float] = []
        for v in views:
            inv = v.invitation
            if v.direction == "Outgoing" and inv is not None and not inv.done:
                timeout_at = inv.expires_at
                if u.now >= timeout_at:
                    await _time_out(u, views, v, inv)
                    return
                deadlines.append(timeout_at)
            for pinv in v.invitations:
                if pinv.kind == "participant" and not pinv.done:
                    due = pinv.expires_at
                    if u.now >= due:
                        await _end_participant_invitation(
                            u, v, pinv, "Failed", reasons.TIMEOUT, reasons.MISSED
                        )
                    else:
                        deadlines.append(due)
            expired = [who for who, until in v.typing.items() if until <= u.now]
            if expired:
                for who in expired:
                    v.typing.pop(who)
                await u.emit(v.app_id, [seq.typing_event(v, who, "deleted") for who in expired])
                await _save(u, v)
            deadlines += [t for t in v.typing.values() if t > u.now]
        await u.tx.set_session_deadline(session, min(deadlines) if deadlines else None)


async def _time_out(u: Unit, views: list[ConvView], sender: ConvView, inv: Invitation) -> None:
    """Nobody answered (SPEC §16.6): Timeout for the sender, Missed for every invited device."""
    await _fail(u, sender, inv, "Failed", reasons.TIMEOUT)
    for other in views:
        oinv = other.invitation
        if other.direction == "Incoming" and oinv is not None and not oinv.done:
            await _fail(u, other, oinv, "Failed", reasons.MISSED)
    await u.tx.delete_session(sender.session_id)


# ---------------------------------------------------------------------------------------------
# reads


async def read(svc: Services, app_id: str, user_uri: str, conv_id: str) -> ConvView:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        return await _view(u, app, conv_id, lock=False)


async def conversations(svc: Services, app_id: str, user_uri: str) -> tuple[Application, list[ConvView]]:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        return app, [v for v in await u.tx.list_conversations(app.id) if not v.ended]


async def invitation(svc: Services, app_id: str, user_uri: str, inv_id: str, kind: str) -> Json:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        for v in await u.tx.list_conversations(app.id):
            for inv in v.invitations:
                if inv.id == inv_id and inv.kind == kind:
                    return (
                        res.participant_invitation(v, inv)
                        if kind == "participant"
                        else res.invitation(v, inv)
                    )
    raise UcwaError(errors.NOT_FOUND, "The invitation does not exist.")


async def message(svc: Services, app_id: str, user_uri: str, conv_id: str, n: int) -> Json:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        v = await _view(u, app, conv_id, lock=False)
        m = await u.tx.get_message(v.id, n)
        if m is None:
            raise UcwaError(errors.NOT_FOUND, "The message does not exist.")
        return res.message(v, m)


async def messages(
    svc: Services, app_id: str, user_uri: str, conv_id: str, before: int | None, limit: int
) -> tuple[ConvView, list[Message]]:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        v = await _view(u, app, conv_id, lock=False)
        return v, await u.tx.list_messages(v.id, before, limit)
