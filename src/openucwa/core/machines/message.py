"""An outgoing message's delivery (SPEC §15.3): Pending until the recipient's batch holds it.

Completion happens once: Succeeded on the first delivery, Failed when the event was withdrawn
unfetched. Incoming messages are created Succeeded.
"""

from __future__ import annotations

from enum import Enum, StrEnum

from . import Machine


class MessageStatus(StrEnum):
    PENDING = "Pending"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class MessageTrigger(Enum):
    DELIVERED = "be delivered"
    UNDELIVERED = "expire undelivered"


TRANSITIONS = {
    (MessageStatus.PENDING, MessageTrigger.DELIVERED): MessageStatus.SUCCEEDED,
    (MessageStatus.PENDING, MessageTrigger.UNDELIVERED): MessageStatus.FAILED,
}

MESSAGE = Machine("message", MessageStatus, MessageTrigger, TRANSITIONS)
