"""Leaving a conversation (SPEC §15.8, §14.2, §18.6): stopMessaging, DELETE conversation, the
outgoing invitation's cancel, and the end of an application's conversations."""

from __future__ import annotations

from ..core import sequences as seq
from ..core.conversation import ConvView, Direction
from ..core.machines.conversation import ConversationState
from ..core.machines.participant import ParticipantState
from ..core.models import Application
from . import access
from .conversations import save, view
from .invitations import cancel, decline_view
from .services import Services, Unit, retrying, unit


@retrying
async def stop(svc: Services, app_id: str, user_uri: str, conv_id: str) -> None:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        await leave(u, await view(u, app, conv_id))


async def leave(u: Unit, v: ConvView) -> None:
    """Unanswered: cancel or decline. Two-party: both sides torn down. Conference: it goes on."""
    inv = v.invitation
    pending = inv is not None and not inv.done
    if pending and v.state is ConversationState.CONNECTING and inv and inv.direction is Direction.OUTGOING:
        await cancel(u, v)
        return
    if pending and v.state is ConversationState.INCOMING:
        await decline_view(u, v, False)
        return
    others = [x for x in await u.tx.session_views(v.session_id) if x.id != v.id and x.live]
    await u.emit(v.app_id, seq.teardown(v, u.now, remote=False))
    await save(u, v)
    if len(others) <= 1:
        for other in others:
            await u.emit(other.app_id, seq.teardown(other, u.now, remote=True))
            await save(u, other)
        await u.tx.delete_session(v.session_id)
        return
    for other in others:  # a conference goes on without the leaver (SPEC §17)
        events = []
        if v.user_uri in other.typing:
            other.typing.pop(v.user_uri)
            events.append(seq.typing_event(other, v.user_uri, "deleted"))
        if other.participant_state(v.user_uri) is not ParticipantState.ABSENT:
            was = other.remove_participant(v.user_uri)
            if was is ParticipantState.MESSAGING:
                events.append(seq.participant_messaging_event(other, v.user_uri, "deleted"))
            events.append(seq.participant_event(other, v.user_uri, "deleted"))
        await u.emit(other.app_id, events)
        await save(u, other)


async def end_for_application(u: Unit, app: Application) -> None:
    """The application is gone (deleted, expired, evicted, reset): its conversations end."""
    for v in await u.tx.list_conversations(app.id):
        if await u.tx.lock_session(v.session_id):
            fresh = await u.tx.get_conversation(v.id)
            if fresh is not None:
                await leave(u, fresh)
        else:
            await u.tx.delete_conversation(v.id)
