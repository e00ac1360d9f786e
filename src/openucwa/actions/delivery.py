"""Delivery receipts (SPEC §15.3): a sent message completes once its recipients fetched it.

A sent message is Pending until the recipient's event batch that holds it is produced; then the
sender's message completes, in that same transaction where possible (``settle_delivered``), else
right after it (``confirm``). Message events nobody fetched in time are withdrawn and the sender's
message fails (``expire_deliveries``).
"""

from __future__ import annotations

from dataclasses import replace

from ..core import reasons
from ..core import sequences as seq
from ..core.events import Receipt
from ..core.machines.message import MESSAGE, MessageTrigger
from .services import Services, Unit, retrying, unit


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
