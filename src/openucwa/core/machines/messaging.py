"""The messaging modality of a conversation (SPEC §15): sendMessage and typing need Connected."""

from __future__ import annotations

from enum import Enum, StrEnum

from . import Machine


class MessagingState(StrEnum):
    CONNECTING = "Connecting"
    CONNECTED = "Connected"
    DISCONNECTED = "Disconnected"


class MessagingTrigger(Enum):
    CONNECT = "connect"
    SEND = "send a message"  # also setIsTyping: legal only while connected, state unchanged
    DISCONNECT = "disconnect"


S, T = MessagingState, MessagingTrigger
TRANSITIONS: dict[tuple[MessagingState, MessagingTrigger], MessagingState] = {
    (S.CONNECTING, T.CONNECT): S.CONNECTED,
    (S.CONNECTED, T.SEND): S.CONNECTED,
    (S.CONNECTING, T.DISCONNECT): S.DISCONNECTED,
    (S.CONNECTED, T.DISCONNECT): S.DISCONNECTED,
}

MESSAGING = Machine("messaging", MessagingState, MessagingTrigger, TRANSITIONS)
