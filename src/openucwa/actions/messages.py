"""Messages and typing (SPEC §15): sendMessage, delivery receipts, setIsTyping.

A sent message is Pending until the recipient's event batch that holds it is produced; then the
sender's message completes, in that same transaction where possible (``settle_delivered``), else
right after it (``confirm``). Message events nobody fetched in time are withdrawn and the sender's
message fails (``expire_deliveries``).
"""

from __future__ import annotations

from dataclasses import replace

from ..core import errors, reasons
from ..core import sequences as seq
from ..core.commands import SendMessage
from ..core.conversation import Direction, Message
from ..core.events import Receipt
from ..core.machines.message import MESSAGE, MessageStatus, MessageTrigger
from ..core.machines.messaging import MessagingState, MessagingTrigger
from . import access, quotas
from .conversations import save, view
from .services import Services, Unit, retrying, unit

_NOT_CONNECTED = "Messaging is not connected."


@retrying
async def send_message(svc: Services, app_id: str, user_uri: str, conv_id: str, cmd: SendMessage) -> str:
    """Returns the sender's message href (the 201's Location)."""
    await quotas.spend_message(svc, user_uri, len(cmd.body.text.encode()))
    async with unit(svc) as u:
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
            events = []
            if other.typing.pop(user_uri, 0) > u.now:
                events.append(seq.typing_event(other, user_uri, "deleted"))
            receipt = Receipt(session=v.session_id, conv=v.id, n=n, user=other.user_uri)
            events.append(seq.message_event(other, m, receipt=receipt))
            await u.emit(other.app_id, events)
            await save(u, other)
        await save(u, v)
        return v.links.message(n)


async def confirm(svc: Services, receipts: list[Receipt]) -> None:
    """Recipients fetched these message events: the senders learn it (SPEC §15.3)."""
    for r in receipts:
        await _settle(svc, r, MessageTrigger.DELIVERED)


async def expire_deliveries(svc: Services) -> None:
    """Message events not fetched in time are withdrawn; the sender gets Failure (SPEC §15.3)."""
    async with unit(svc) as u:
        overdue = await u.tx.take_overdue_receipts(u.now - svc.settings.message_delivery_timeout)
    for _app, r in overdue:
        await _settle(svc, r, MessageTrigger.UNDELIVERED)


@retrying
async def _settle(svc: Services, r: Receipt, trigger: MessageTrigger) -> None:
    async with unit(svc) as u:
        if await u.tx.lock_session(r.session):
            await _complete(u, r, trigger)


async def settle_delivered(u: Unit, receipts: list[Receipt]) -> list[Receipt]:
    """The recipients' batch holding these messages is being produced in ``u``: the senders'
    messages complete in the same transaction (SPEC §15.3). Returns those left for ``confirm``
    after the commit, whose communication another transaction holds: ``u`` already holds the
    recipient's application, and waiting for the communication would take locks in the opposite
    order to sending."""
    later = []
    for r in receipts:
        locked = await u.tx.try_lock_session(r.session)
        if locked is None:
            later.append(r)
        elif locked:
            await _complete(u, r, MessageTrigger.DELIVERED)
    return later


async def _complete(u: Unit, r: Receipt, trigger: MessageTrigger) -> None:
    """Completes the sender's message once: Success on the first delivery, else Failure."""
    v = await u.tx.get_conversation(r.conv)
    m = await u.tx.get_message(r.conv, r.n)
    if v is None or m is None or not MESSAGE.allows(m.status, trigger):
        return  # the conversation ended, or the message already completed
    status = MESSAGE.step(m.status, trigger)
    failed, why = m.failed, None
    if trigger is MessageTrigger.UNDELIVERED:
        failed, why = (*m.failed, r.user), reasons.DELIVERY_TIMEOUT
    await u.tx.update_message(m.conv_id, m.n, status=status, failed=failed)
    await u.emit(v.app_id, [seq.message_event(v, replace(m, status=status, failed=failed), reason=why)])


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
