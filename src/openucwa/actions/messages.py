"""Messages and typing (SPEC §15): sendMessage and setIsTyping (receipts: ``delivery``).

A message's transaction also answers the P-GETs parked on this node that it moved (``events.Claims``):
the recipient's batch, then the sender's, whose message that batch completed.
"""

from __future__ import annotations

from ..core import errors
from ..core import sequences as seq
from ..core.commands import SendMessage
from ..core.conversation import Direction, Message
from ..core.events import Receipt
from ..core.machines.message import MessageStatus
from ..core.machines.messaging import MessagingState, MessagingTrigger
from . import access, events, quotas
from .conversations import save, view
from .services import Services, Unit, retrying, unit

_NOT_CONNECTED = "Messaging is not connected."


@retrying
async def send_message(svc: Services, app_id: str, user_uri: str, conv_id: str, cmd: SendMessage) -> str:
    """Returns the sender's message href (the 201's Location)."""
    await quotas.spend_message(svc, user_uri, len(cmd.body.text.encode()))
    return await events.answering(
        svc, lambda u: _send(u, app_id, user_uri, conv_id, cmd), recipients_first=True
    )


async def _send(u: Unit, app_id: str, user_uri: str, conv_id: str, cmd: SendMessage) -> str:
    app = await access.load(u, app_id, user_uri)
    v = await view(u, app, conv_id)
    v.step_messaging(MessagingTrigger.SEND, _NOT_CONNECTED)
    body = cmd.body
    if body.content_type == "text/html" and "Html" not in v.formats:
        raise errors.invalid({"Content-Type": "Invalid"}, "HTML messages were not negotiated.")
    n = v.next_message
    v.next_message += 1
    ts = int(u.now * 1000)
    out = Message(
        v.id,
        n,
        Direction.OUTGOING,
        user_uri,
        body.content_type,
        body.text,
        ts,
        cmd.operation_id,
        MessageStatus.PENDING,
    )
    await u.tx.add_message(out)
    for other in await u.tx.session_views(v.session_id):
        if other.id == v.id or other.messaging is not MessagingState.CONNECTED:
            continue
        m = Message(
            other.id, other.next_message, Direction.INCOMING, user_uri, body.content_type, body.text, ts
        )
        other.next_message += 1
        await u.tx.add_message(m)
        queued = []
        if other.typing.pop(user_uri, 0) > u.now:
            queued.append(seq.typing_event(other, user_uri, "deleted"))
        receipt = Receipt(session=v.session_id, conv=v.id, n=n, user=other.user_uri)
        queued.append(seq.message_event(other, m, receipt=receipt))
        await u.emit(other.app_id, queued)
        await save(u, other)
    await save(u, v)
    return v.links.message(n)


@retrying
async def set_typing(svc: Services, app_id: str, user_uri: str, conv_id: str) -> None:
    async with unit(svc) as u:
        app = await access.load(u, app_id, user_uri)
        v = await view(u, app, conv_id)
        v.step_messaging(MessagingTrigger.SEND, _NOT_CONNECTED)
        until = u.now + svc.settings.typing_timeout
        for other in await u.tx.session_views(v.session_id):
            if other.id == v.id or other.messaging is not MessagingState.CONNECTED:
                continue
            if other.typing.get(user_uri, 0) <= u.now:
                await u.emit(other.app_id, [seq.typing_event(other, user_uri, "added")])
            other.typing[user_uri] = until
            await save(u, other)
        await u.tx.advance_session_deadline(v.session_id, until)
