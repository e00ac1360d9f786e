"""Every transition of every conversation state machine, written out again here on purpose: the
tables in core.machines must match what SPEC §14–§17 asks, not merely themselves."""

from __future__ import annotations

from enum import Enum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openucwa.core.conversation import ConvView, Direction, Invitation, InvitationKind
from openucwa.core.errors import CONFLICT
from openucwa.core.machines import IllegalTransition, Machine
from openucwa.core.machines.conversation import CONVERSATION, ConversationState, ConversationTrigger
from openucwa.core.machines.invitation import INVITATION, InvitationState, InvitationTrigger
from openucwa.core.machines.message import MESSAGE, MessageStatus, MessageTrigger
from openucwa.core.machines.messaging import MESSAGING, MessagingState, MessagingTrigger
from openucwa.core.machines.participant import PARTICIPANT, ParticipantState, ParticipantTrigger

INV, IT = InvitationState, InvitationTrigger
C, CT = ConversationState, ConversationTrigger
M, MT = MessagingState, MessagingTrigger
P, PT = ParticipantState, ParticipantTrigger
MS, MST = MessageStatus, MessageTrigger

EXPECTED: dict[str, tuple[Machine[Any, Any], dict[tuple[Any, Any], Any]]] = {
    "invitation": (
        INVITATION,
        {
            (INV.CONNECTING, IT.ACCEPT): INV.CONNECTED,
            (INV.CONNECTING, IT.DECLINE): INV.DECLINED,
            (INV.CONNECTING, IT.CANCEL): INV.CANCELLED,
            (INV.CONNECTING, IT.FAIL): INV.FAILED,
        },
    ),
    "conversation": (
        CONVERSATION,
        {
            (C.CONNECTING, CT.CONNECT): C.CONNECTED,
            (C.INCOMING, CT.CONNECT): C.CONNECTED,
            (C.INCOMING, CT.JOIN): C.CONFERENCED,
            (C.CONNECTED, CT.ESCALATE): C.CONFERENCED,
            (C.CONNECTING, CT.END): C.DISCONNECTED,
            (C.INCOMING, CT.END): C.DISCONNECTED,
            (C.CONNECTED, CT.END): C.DISCONNECTED,
            (C.CONFERENCED, CT.END): C.DISCONNECTED,
        },
    ),
    "messaging": (
        MESSAGING,
        {
            (M.CONNECTING, MT.CONNECT): M.CONNECTED,
            (M.CONNECTED, MT.SEND): M.CONNECTED,
            (M.CONNECTING, MT.DISCONNECT): M.DISCONNECTED,
            (M.CONNECTED, MT.DISCONNECT): M.DISCONNECTED,
        },
    ),
    "participant": (
        PARTICIPANT,
        {
            (P.ABSENT, PT.ADD): P.JOINED,
            (P.JOINED, PT.START_MESSAGING): P.MESSAGING,
            (P.JOINED, PT.LEAVE): P.ABSENT,
            (P.MESSAGING, PT.LEAVE): P.ABSENT,
        },
    ),
    "message": (
        MESSAGE,
        {
            (MS.PENDING, MST.DELIVERED): MS.SUCCEEDED,
            (MS.PENDING, MST.UNDELIVERED): MS.FAILED,
        },
    ),
}


def _every_pair() -> list[tuple[str, Enum, Enum]]:
    return [(name, s, t) for name, (m, _) in EXPECTED.items() for s in m.states for t in m.triggers]


@pytest.mark.parametrize(
    ("name", "state", "trigger"), _every_pair(), ids=lambda x: str(getattr(x, "name", x))
)
def test_every_state_and_trigger(name: str, state: Enum, trigger: Enum) -> None:
    machine, table = EXPECTED[name]
    if (state, trigger) in table:
        assert machine.step(state, trigger) is table[(state, trigger)]
        assert machine.allows(state, trigger)
    else:
        with pytest.raises(IllegalTransition) as caught:
            machine.step(state, trigger)
        assert caught.value.kind is CONFLICT  # a client asking for it gets 409 Conflict
        assert (caught.value.state, caught.value.trigger) == (state, trigger)
        assert not machine.allows(state, trigger)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_tables_hold_nothing_else(name: str) -> None:
    machine, table = EXPECTED[name]
    assert dict(machine.transitions) == table


def test_final_states() -> None:
    assert {s for s in INV if INVITATION.terminal(s)} == {
        INV.CONNECTED,
        INV.DECLINED,
        INV.CANCELLED,
        INV.FAILED,
    }
    assert {s for s in C if CONVERSATION.terminal(s)} == {C.DISCONNECTED}
    assert {s for s in MS if MESSAGE.terminal(s)} == {MS.SUCCEEDED, MS.FAILED}
    assert not any(PARTICIPANT.terminal(s) for s in P)  # a participant who left may be added again


def test_illegal_message_names_the_operation() -> None:
    with pytest.raises(IllegalTransition, match="Messaging is not connected"):
        MESSAGING.step(M.CONNECTING, MT.SEND, "Messaging is not connected.")
    with pytest.raises(IllegalTransition, match="invitation cannot accept while Declined"):
        INVITATION.step(INV.DECLINED, IT.ACCEPT)


@pytest.mark.parametrize("name", list(EXPECTED))
@given(data=st.data())
def test_random_sequences_stay_in_defined_states(name: str, data: st.DataObject) -> None:
    """Whatever arrives, the state is always a member of the machine's Enum, and an illegal
    trigger leaves it exactly as it was."""
    machine, table = EXPECTED[name]
    state = data.draw(st.sampled_from(list(machine.states)))
    for trigger in data.draw(st.lists(st.sampled_from(list(machine.triggers)), max_size=30)):
        before = state
        try:
            state = machine.step(state, trigger)
        except IllegalTransition:
            assert state is before
            assert (before, trigger) not in table
        else:
            assert state is table[(before, trigger)]
        assert state in set(machine.states)


def _view() -> ConvView:
    return ConvView(
        id="c1",
        app_id="a1",
        user_uri="toshm@contoso.com",
        session_id="s1",
        thread_id="t1",
        direction=Direction.OUTGOING,
    )


@given(st.lists(st.tuples(st.sampled_from(["add", "messaging", "leave"]), st.sampled_from(["a", "b", "c"]))))
def test_view_participants_follow_the_table(ops: list[tuple[str, str]]) -> None:
    """The view's participant lists change only as the participant table allows: nobody is in
    messaging without being present, and nobody is listed twice."""
    v = _view()
    for op, user in ops:
        before = (list(v.remote), list(v.remote_messaging))
        try:
            if op == "add":
                v.add_participant(user)
            elif op == "messaging":
                v.start_participant_messaging(user)
            else:
                v.remove_participant(user)
        except IllegalTransition:
            assert (v.remote, v.remote_messaging) == before
        assert len(set(v.remote)) == len(v.remote)
        assert set(v.remote_messaging) <= set(v.remote)
        assert len(set(v.remote_messaging)) == len(v.remote_messaging)


def test_view_steps_refuse_and_keep_state() -> None:
    v = _view()
    v.step(CT.CONNECT)
    assert v.state is C.CONNECTED and v.live
    with pytest.raises(IllegalTransition):
        v.step(CT.JOIN)
    assert v.state is C.CONNECTED
    v.step(CT.ESCALATE)
    v.step(CT.END)
    assert v.state is C.DISCONNECTED and not v.live
    inv = Invitation(id="i1", direction=Direction.INCOMING)
    inv.step(IT.DECLINE)
    assert inv.done and inv.state is INV.DECLINED
    with pytest.raises(IllegalTransition):
        inv.step(IT.ACCEPT)
    assert inv.state is INV.DECLINED


def test_documents_round_trip_with_enums() -> None:
    """Views are stored as JSON documents: states come back as the same Enum members, and
    documents written before ``done`` became derived still load."""
    import orjson

    v = _view()
    v.invitations = [Invitation(id="i1", direction=Direction.OUTGOING)]
    v.invitations[0].step(IT.FAIL)
    doc = orjson.loads(orjson.dumps(v))
    assert doc["state"] == "Connecting" and doc["invitations"][0]["state"] == "Failed"
    doc["invitations"][0]["done"] = True
    back = ConvView.from_doc(doc)
    assert back == v
    assert back.invitations[0].state is INV.FAILED and back.direction is Direction.OUTGOING
    # Fields a document may lack come back as their defaults, as members.
    for key in ("state", "messaging", "formats"):
        del doc[key]
    for key in ("state", "kind"):
        del doc["invitations"][0][key]
    old = ConvView.from_doc(doc)
    assert old.state is ConversationState.CONNECTING and old.messaging is MessagingState.CONNECTING
    assert old.formats == ("Plain",)
    assert old.invitations[0].state is INV.CONNECTING
    assert old.invitations[0].kind is InvitationKind.MESSAGING
