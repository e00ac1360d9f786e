"""Pure people rules: subscription inputs, durations, expiry and limits; contact rendering."""

from __future__ import annotations

import pytest

from openucwa.core import commands, presence
from openucwa.core import subscriptions as rules
from openucwa.core.errors import UcwaError
from openucwa.core.models import Application, Presence, PresenceSubscription, User
from openucwa.core.resources import people as res

A = "/ucwa/oauth/v1/applications/app1"


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        (10, 10),
        (30, 30),
        ("11", 11),
        (" 12 ", 12),
        (9, None),
        (31, None),
        ("x", None),
        (None, None),
        ("", None),
        (True, None),
        (10.5, None),
        (10.0, 10),
    ],
)
def test_duration(raw: object, ok: int | None) -> None:
    if ok is None:
        with pytest.raises(UcwaError) as exc:
            commands.duration({"duration": raw})
        assert exc.value.status == 400
    else:
        assert commands.duration({"duration": raw}) == ok


def test_uris_are_normalised_deduplicated_and_validated() -> None:
    assert commands.uris(
        {"uris": ["sip:LeneA@contoso.com", "lenea@contoso.com", "sip:sarad@contoso.com"]}, "uris"
    ) == ("lenea@contoso.com", "sarad@contoso.com")
    for bad in ([], "sip:a@b", ["sip:nodomain"], [None], ["sip:a b@c"], None):
        with pytest.raises(UcwaError):
            commands.uris({"uris": bad}, "uris")


def test_extend_adds_to_the_remaining_time_capped_at_thirty_minutes() -> None:
    sub = PresenceSubscription("s", "a", expires_at=1000.0 + 5 * 60)
    assert rules.extended(sub, 1000.0, 10) == 1000.0 + 15 * 60
    assert rules.extended(sub, 1000.0, 30) == 1000.0 + 30 * 60
    expired = PresenceSubscription("s", "a", expires_at=900.0)
    assert rules.extended(expired, 1000.0, 10) == 1000.0 + 10 * 60
    short = PresenceSubscription("s", "a", expires_at=1005.0)
    assert rules.extended(short, 1000.0, 10, minute=1.0) == 1015.0


@pytest.mark.parametrize(
    ("now", "warned", "want"),
    [
        (0.0, False, rules.Due.KEEP),
        (539.0, False, rules.Due.KEEP),
        (540.0, False, rules.Due.WARN),
        (550.0, True, rules.Due.KEEP),
        (600.0, True, rules.Due.EXPIRE),
        (601.0, False, rules.Due.EXPIRE),
    ],
)
def test_due(now: float, warned: bool, want: rules.Due) -> None:
    sub = PresenceSubscription("s", "a", expires_at=600.0, warned=warned)
    assert rules.due(sub, now) is want


def test_limits() -> None:
    rules.check_limits(50, set(), [])
    with pytest.raises(UcwaError) as exc:
        rules.check_limits(51, set(), [])
    assert exc.value.kind.subcode == "LimitExceeded"
    watched = {f"u{i}@x.y" for i in range(499)}
    rules.check_limits(1, watched, ["u0@x.y", "new@x.y"])
    with pytest.raises(UcwaError):
        rules.check_limits(1, watched, ["new@x.y", "other@x.y"])


def _app(**kw: object) -> Application:
    base = dict(
        id="a",
        user_uri="u@x.y",
        endpoint_id="e",
        user_agent="t",
        culture="en-US",
        type="Browser",
        comm_key="k",
        created_at=0.0,
        last_request_at=0.0,
    )
    return Application(**{**base, **kw})  # type: ignore[arg-type]


def test_last_active_and_messaging() -> None:
    pub = Presence("u@x.y", last_active=50.0)
    lurker = _app(available=False, last_activity_at=99.0)
    avail = _app(id="b", available=True, supported_modalities=("Messaging",), last_activity_at=70.0)
    assert presence.last_active(pub, [lurker]) == 50.0
    assert presence.last_active(pub, [lurker, avail]) == 70.0
    assert presence.last_active(Presence("u@x.y"), []) is None
    assert not presence.messaging(pub, [lurker]) and presence.messaging(pub, [avail])
    assert not presence.messaging(Presence("u@x.y", availability="Offline"), [avail])
    assert presence.availability(pub, [lurker], 100.0) == "Offline"


def test_contact_rendering_omits_what_is_not_configured() -> None:
    c = res.contact("app1", User("lenea@contoso.com", "Lene Aaling", "h", email="lenea@contoso.com"))
    assert c["uri"] == "sip:lenea@contoso.com" and "title" not in c and "contactPhoto" not in c["_links"]
    assert c["_links"]["self"]["href"] == A + "/people/lenea@contoso.com"
    off = res.contact_presence("app1", "lenea@contoso.com", res.ContactState("Offline", None, None, False))
    assert off["deviceType"] == "Unknown" and "lastActive" not in off and "activity" not in off
    on = res.contact_presence("app1", "lenea@contoso.com", res.ContactState("Busy", "off-work", 1.5, True))
    assert (on["deviceType"], on["lastActive"], on["activity"]) == ("Web", "/Date(1500)/", "off-work")
    hub = res.people("app1", features=("search",))
    assert set(hub["_links"]) == {"self", "search"}


def test_group_links_follow_features() -> None:
    g = res.Group("pinned", "pinned", "Pinned Contacts")
    assert "subscribeToGroupPresence" not in res.group("app1", g, features=())["_links"]
    full = res.group("app1", g)
    assert full["rel"] == "pinnedGroup"
    assert (
        full["_links"]["subscribeToGroupPresence"]["href"]
        == A + "/people/presenceSubscriptions?groupId=pinned"
    )
