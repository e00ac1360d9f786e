"""Asynchronous failure reasons (SPEC §19.5): LocalFailure when this side caused it, RemoteFailure
when the other side did."""

from __future__ import annotations

from .errors import reason

DECLINED_BY_REMOTE = reason("RemoteFailure", "Declined", "The invitation was declined.")
DECLINED_LOCALLY = reason("LocalFailure", "Declined", "The invitation was declined.")
TIMEOUT = reason("RemoteFailure", "Timeout", "The invitation was not answered in time.")
MISSED = reason("LocalFailure", "Missed", "The invitation was not answered in time.")
NOT_FOUND = reason("RemoteFailure", "DestinationNotFound", "The person invited does not exist.")
UNREACHABLE = reason("RemoteFailure", "Unreachable", "The person invited is not available.")
CANCELED_LOCALLY = reason("LocalFailure", "Canceled", "The invitation was cancelled.")
CANCELED_BY_REMOTE = reason("RemoteFailure", "Canceled", "The inviter cancelled the invitation.")
ELSEWHERE = reason("LocalFailure", "ConnectedElsewhere", "The invitation was answered on another device.")
DELIVERY_TIMEOUT = reason("RemoteFailure", "Timeout", "The message was not delivered in time.")
