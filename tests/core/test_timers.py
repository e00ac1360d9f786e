"""What a session's timers owe, decided without a clock: ``now`` is an argument."""

from __future__ import annotations

from openucwa.core.conversation import ConvView, Direction, Invitation, InvitationKind
from openucwa.core.machines.conversation import ConversationState
from openucwa.core.machines.invitation import InvitationTrigger
from openucwa.core.timers import due


def _view(direction: Direction, **kw: object) -> ConvView:
    return ConvView(
        id=f"c-{direction}",
        app_id="a",
        user_uri="toshm@contoso.com",
        session_id="s",
        thread_id="t",
        direction=direction,
        **kw,  # type: ignore[arg-type]  # test-only keyword pass-through
    )


def test_unanswered_invitation_times_out_alone() -> None:
    inv = Invitation(id="i", direction=Direction.OUTGOING, expires_at=30.0)
    sender = _view(Direction.OUTGOING, invitations=[inv])
    other = _view(Direction.INCOMING, typing={"lenea@contoso.com": 5.0})
    assert due([sender, other], 29.9).timed_out is None
    assert due([sender, other], 29.9).next_deadline == 30.0
    owed = due([sender, other], 30.0)
    assert owed.timed_out == (sender, inv) and owed.views == () and owed.next_deadline is None


def test_answered_invitation_no_longer_counts() -> None:
    inv = Invitation(id="i", direction=Direction.OUTGOING, expires_at=30.0)
    inv.step(InvitationTrigger.ACCEPT)
    sender = _view(Direction.OUTGOING, invitations=[inv], state=ConversationState.CONNECTED)
    owed = due([sender], 100.0)
    assert owed.timed_out is None and owed.views == () and owed.next_deadline is None


def test_participant_invitations_and_typing_expire_per_view() -> None:
    early = Invitation(
        id="p1", direction=Direction.OUTGOING, kind=InvitationKind.PARTICIPANT, expires_at=10.0
    )
    late = Invitation(id="p2", direction=Direction.OUTGOING, kind=InvitationKind.PARTICIPANT, expires_at=50.0)
    host = _view(
        Direction.OUTGOING,
        state=ConversationState.CONFERENCED,
        invitations=[early, late],
        typing={"lenea@contoso.com": 12.0, "sara@contoso.com": 20.0},
    )
    owed = due([host], 15.0)
    assert owed.timed_out is None
    [item] = owed.views
    assert item.view is host
    assert item.expired_invitations == (early,)
    assert item.stopped_typing == ("lenea@contoso.com",)
    assert owed.next_deadline == 20.0
