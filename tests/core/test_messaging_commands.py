"""Messaging inputs become typed commands in core, with the error a client gets for each fault."""

from __future__ import annotations

import pytest

from openucwa.core import commands, errors
from openucwa.core.errors import UcwaError

TOSH = "toshm@contoso.com"


def _kind(exc: pytest.ExceptionInfo[UcwaError]) -> errors.ErrorKind:
    return exc.value.kind


@pytest.mark.parametrize(
    ("raw", "media", "charset", "query", "kind"),
    [
        (b"x" * 65, "text/plain", None, {}, errors.ENTITY_TOO_LARGE),
        (b"hi", "application/json", None, {}, errors.UNSUPPORTED_MEDIA_TYPE),
        (b"", "text/plain", None, {}, errors.PARAMETER_VALIDATION_FAILURE),
        (b"\xff", "text/plain", "utf-8", {}, errors.DESERIALIZATION_FAILURE),
        (b"hi", "text/plain", "no-such-charset", {}, errors.UNSUPPORTED_MEDIA_TYPE),
        (b"+2AA-", "text/plain", "utf-7", {}, errors.UNSUPPORTED_MEDIA_TYPE),
        (b"hi", "text/plain", None, {"operationId": "x" * 51}, errors.PARAMETER_VALIDATION_FAILURE),
    ],
)
def test_send_message_refusals(
    raw: bytes, media: str, charset: str | None, query: dict[str, str], kind: errors.ErrorKind
) -> None:
    with pytest.raises(UcwaError) as caught:
        commands.send_message(raw, media, charset, query, max_bytes=64)
    assert _kind(caught) is kind


def test_send_message_accepts_text_and_html_and_either_operation_name() -> None:
    cmd = commands.send_message("Grüße".encode("latin-1"), "text/plain", "latin-1", {}, max_bytes=64)
    assert cmd.body == commands.Text("Grüße", "text/plain") and cmd.operation_id is None
    cmd = commands.send_message(b"<b>hi</b>", "text/html", None, {"OperationContext": "op1"}, max_bytes=64)
    assert cmd.body.content_type == "text/html" and cmd.operation_id == "op1"


def test_start_messaging_parses_the_documented_inputs() -> None:
    cmd = commands.start_messaging(
        {
            "To": "sip:LeneA@contoso.com",
            "importance": "urgent",
            "operationId": "op",
            "_links": {"message": {"href": "data:text/plain;charset=utf-8,What%27s+up%3F"}},
        },
        sender=TOSH,
    )
    assert cmd.to == "lenea@contoso.com" and cmd.importance == "Urgent" and cmd.operation_id == "op"
    assert cmd.message == commands.Text("What's up?", "text/plain")
    assert cmd.thread_id is None and cmd.subject is None


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({}, "to"),
        ({"to": "not an address"}, "to"),
        ({"to": f"sip:{TOSH}"}, "to"),  # yourself
        ({"to": "sip:lenea@contoso.com", "importance": "Loud"}, "importance"),
        ({"to": "sip:lenea@contoso.com", "message": 5}, "message"),
        ({"to": "sip:lenea@contoso.com", "message": "data:image/png;base64,AAAA"}, "message"),
        ({"to": "sip:lenea@contoso.com", "operationId": "x" * 51}, "operationId"),
    ],
)
def test_start_messaging_refusals_name_the_input(data: dict[str, object], param: str) -> None:
    with pytest.raises(UcwaError) as caught:
        commands.start_messaging(data, sender=TOSH)
    assert _kind(caught) is errors.PARAMETER_VALIDATION_FAILURE
    assert param in (caught.value.parameters or {})


def test_add_participant_needs_the_conversation_and_decline_reads_global() -> None:
    with pytest.raises(UcwaError) as caught:
        commands.add_participant({"to": "sip:lenea@contoso.com"}, sender=TOSH)
    assert caught.value.parameters == {"conversation": "Required"}
    cmd = commands.add_participant({"conversation": "c1", "to": "lenea@contoso.com"}, sender=TOSH)
    assert (cmd.conversation, cmd.to) == ("c1", "lenea@contoso.com")
    assert commands.decline({"Reason": "GLOBAL"}).everywhere
    assert not commands.decline({"reason": "Local"}).everywhere and not commands.decline({}).everywhere


def test_user_agent_policy() -> None:
    cmd = commands.create_application({"userAgent": "EvilBot/1.0", "endpointId": "e", "culture": "en-US"})
    commands.user_agent_allowed(cmd, ())
    commands.user_agent_allowed(cmd, ("", "other"))
    with pytest.raises(UcwaError) as caught:
        commands.user_agent_allowed(cmd, ("evilbot",))
    assert _kind(caught) is errors.USER_AGENT_NOT_ALLOWED
