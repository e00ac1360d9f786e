"""Table-driven tests of the pure event-channel core (SPEC §8).

Every case states its ``now`` explicitly: nothing sleeps and nothing needs an event loop.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from openucwa.core.channel import (
    LOW_RANGE,
    MEDIUM_RANGE,
    TIMEOUT_RANGE,
    ChannelSettings,
    ChannelState,
    Produce,
    Replay,
    Resync,
    Wait,
    acknowledge,
    decide,
    due_at,
    merge,
)
from openucwa.core.events import Event, Priority, StoredEvent, group_by_sender, page, resync_page

H, M, L = Priority.HIGH, Priority.MEDIUM, Priority.LOW

# --------------------------------------------------------------------------------------------------
# helpers


def stored(
    position: int,
    *,
    priority: Priority = L,
    at: float = 0.0,
    type_: str = "updated",
    rel: str = "participant",
    href: str | None = None,
    sender: tuple[str, str] = ("conversation", "A/conv/1"),
) -> StoredEvent:
    """A StoredEvent built the way a store builds one: body and merge key from an ``Event``."""
    ev = Event(
        sender_rel=sender[0],
        sender_href=sender[1],
        type=type_,
        link_rel=rel,
        link_href=href if href is not None else f"A/target/{position}",
        priority=priority,
        extra={"id": position},
    )
    return StoredEvent(
        position=position,
        sender_rel=ev.sender_rel,
        sender_href=ev.sender_href,
        body=ev.wire(),
        priority=ev.priority,
        enqueued_at=at,
        merge_key=ev.merge_key,
    )


def queue(*spec: tuple[Priority, float]) -> list[StoredEvent]:
    return [stored(i, priority=p, at=t) for i, (p, t) in enumerate(spec, start=1)]


# --------------------------------------------------------------------------------------------------
# decide


@dataclass(frozen=True)
class DecideCase:
    id: str
    state: ChannelState
    ack: int | None
    queued: tuple[tuple[Priority, float], ...]
    now: float
    started_at: float
    expected: object
    aggregation: bool = True


S = ChannelState  # defaults: lowest=1, next=1, timeout=180, low=15, medium=5
S35 = ChannelState(lowest=3, next=5)
CUSTOM = ChannelSettings(timeout=300, low=60, medium=30)

DECIDE_CASES = [
    # --- resync (§8.8): missing ack, below lowest, above next
    DecideCase("missing-ack", S35, None, (), 0, 0, Resync(3)),
    DecideCase("missing-ack-fresh", S(), None, (), 0, 0, Resync(1)),
    DecideCase("missing-ack-with-high-queued", S35, None, ((H, 0),), 0, 0, Resync(3)),
    DecideCase("ack-below-lowest", S35, 2, (), 0, 0, Resync(3)),
    DecideCase("ack-zero", S(), 0, (), 0, 0, Resync(1)),
    DecideCase("ack-negative", S35, -4, (), 0, 0, Resync(3)),
    DecideCase("ack-above-next", S35, 6, (), 0, 0, Resync(3)),
    DecideCase("ack-far-above-next", S35, 1000, ((H, 0),), 0, 0, Resync(3)),
    DecideCase("fresh-ack-2", S(), 2, (), 0, 0, Resync(1)),
    DecideCase("resume-does-not-beat-resync", S(3, 5, resume_pending=True), 9, (), 0, 0, Resync(3)),
    # --- replay (§8.2): ack in [lowest, next)
    DecideCase("replay-lowest", S35, 3, (), 0, 0, Replay(3)),
    DecideCase("replay-middle", S35, 4, ((H, 0),), 10, 10, Replay(4)),
    DecideCase("replay-ignores-timeout", S35, 4, (), 10_000, 0, Replay(4)),
    DecideCase("replay-before-resume", S(3, 5, resume_pending=True), 4, (), 0, 0, Replay(4)),
    # --- resume (§8.9): immediate, event-less, even with due events queued
    DecideCase(
        "resume-pending",
        S(3, 5, resume_pending=True),
        5,
        (),
        0,
        0,
        Produce(5, with_events=False, resume=True),
    ),
    DecideCase(
        "resume-pending-with-high-queued",
        S(1, 1, resume_pending=True),
        1,
        ((H, 0), (L, 0)),
        0,
        0,
        Produce(1, with_events=False, resume=True),
    ),
    DecideCase(
        "resume-pending-aggregation-off",
        S(2, 2, resume_pending=True),
        2,
        ((L, 0),),
        0,
        0,
        Produce(2, with_events=False, resume=True),
        aggregation=False,
    ),
    # --- release rule 1: High is immediate
    DecideCase("high-immediate", S(), 1, ((H, 50),), 50, 50, Produce(1, with_events=True)),
    DecideCase("high-arrives-later", S35, 5, ((H, 70),), 70, 10, Produce(5, with_events=True)),
    DecideCase(
        "high-drags-young-low-along", S(), 1, ((L, 50), (H, 51)), 51, 40, Produce(1, with_events=True)
    ),
    # --- release rule 2: Medium waits `medium` seconds
    DecideCase("medium-young", S(), 1, ((M, 100),), 103, 100, Wait(105)),
    DecideCase("medium-just-before", S(), 1, ((M, 100),), 104.999, 100, Wait(105)),
    DecideCase("medium-due", S(), 1, ((M, 100),), 105, 100, Produce(1, with_events=True)),
    DecideCase("medium-overdue", S(), 1, ((M, 100),), 150, 149, Produce(1, with_events=True)),
    DecideCase("medium-custom", S(settings=CUSTOM), 1, ((M, 100),), 129, 100, Wait(130)),
    DecideCase(
        "medium-custom-due", S(settings=CUSTOM), 1, ((M, 100),), 130, 100, Produce(1, with_events=True)
    ),
    # --- release rule 3: Low waits `low` seconds
    DecideCase("low-young", S(), 1, ((L, 100),), 110, 100, Wait(115)),
    DecideCase("low-just-before", S(), 1, ((L, 100),), 114.9, 100, Wait(115)),
    DecideCase("low-due", S(), 1, ((L, 100),), 115, 100, Produce(1, with_events=True)),
    DecideCase("low-custom", S(settings=CUSTOM), 1, ((L, 100),), 130, 100, Wait(160)),
    DecideCase("low-custom-due", S(settings=CUSTOM), 1, ((L, 100),), 160, 100, Produce(1, with_events=True)),
    DecideCase("oldest-low-counts", S(), 1, ((L, 100), (L, 110)), 105, 100, Wait(115)),
    # --- Low + Medium mixture: earliest deadline wins
    DecideCase("mix-medium-first", S(), 1, ((L, 100), (M, 108)), 109, 100, Wait(113)),
    DecideCase("mix-medium-first-due", S(), 1, ((L, 100), (M, 108)), 113, 100, Produce(1, True)),
    DecideCase("mix-low-first", S(), 1, ((L, 88), (M, 100)), 101, 100, Wait(103)),
    DecideCase("mix-low-first-due", S(), 1, ((L, 88), (M, 100)), 103, 100, Produce(1, True)),
    DecideCase("mix-medium-then-low", S(), 1, ((M, 100), (L, 101)), 104, 100, Wait(105)),
    # --- aggregation off: everything is immediate
    DecideCase("agg-off-low", S(), 1, ((L, 100),), 100, 100, Produce(1, True), aggregation=False),
    DecideCase("agg-off-medium", S(), 1, ((M, 100),), 100, 90, Produce(1, True), aggregation=False),
    DecideCase("agg-off-empty", S(), 1, (), 100, 100, Wait(280), aggregation=False),
    DecideCase("agg-off-replay-still-replay", S35, 4, ((L, 0),), 0, 0, Replay(4), aggregation=False),
    # --- release rule 4: timeout (with_events = bool(queued))
    DecideCase("empty-waits-timeout", S(), 1, (), 0, 0, Wait(180)),
    DecideCase("empty-waits-timeout-late-start", S35, 5, (), 1000, 1000, Wait(1180)),
    DecideCase("empty-timeout", S(), 1, (), 180, 0, Produce(1, with_events=False)),
    DecideCase("empty-timeout-overdue", S35, 5, (), 500, 0, Produce(5, with_events=False)),
    DecideCase("empty-custom-timeout", S(settings=CUSTOM), 1, (), 299, 0, Wait(300)),
    DecideCase("empty-custom-timeout-hit", S(settings=CUSTOM), 1, (), 300, 0, Produce(1, False)),
    DecideCase("timeout-takes-young-low", S(), 1, ((L, 175),), 180, 0, Produce(1, with_events=True)),
    DecideCase("timeout-takes-young-medium", S(), 1, ((M, 178),), 180, 0, Produce(1, with_events=True)),
    # --- Wait.until = min(deadline, timeout)
    DecideCase("until-timeout-before-low", S(), 1, ((L, 170),), 171, 0, Wait(180)),
    DecideCase("until-timeout-before-medium", S(), 1, ((M, 177),), 178, 0, Wait(180)),
    DecideCase("until-low-before-timeout", S(), 1, ((L, 100),), 101, 0, Wait(115)),
    DecideCase("until-equal", S(), 1, ((L, 165),), 170, 0, Wait(180)),
]


@pytest.mark.parametrize("case", DECIDE_CASES, ids=[c.id for c in DECIDE_CASES])
def test_decide(case: DecideCase) -> None:
    q = queue(*case.queued)
    got = decide(
        case.state, case.ack, q, now=case.now, started_at=case.started_at, aggregation=case.aggregation
    )
    assert got == case.expected
    assert type(got) is type(case.expected)


@pytest.mark.parametrize("case", DECIDE_CASES, ids=[c.id for c in DECIDE_CASES])
def test_decide_is_pure(case: DecideCase) -> None:
    """Same inputs, same answer; the inputs are not touched."""
    q = queue(*case.queued)
    snapshot = list(q)
    a = decide(
        case.state, case.ack, q, now=case.now, started_at=case.started_at, aggregation=case.aggregation
    )
    b = decide(
        case.state, case.ack, q, now=case.now, started_at=case.started_at, aggregation=case.aggregation
    )
    assert a == b
    assert q == snapshot


@pytest.mark.parametrize(
    ("queued", "start", "expected_until"),
    [
        ((), 0, 180),
        (((L, 10),), 0, 25),
        (((M, 10),), 0, 15),
        (((L, 10), (M, 12)), 0, 17),
        (((L, 170),), 0, 180),
    ],
)
def test_wait_then_decide_at_until_releases(
    queued: tuple[tuple[Priority, float], ...], start: float, expected_until: float
) -> None:
    """A driver that sleeps until ``Wait.until`` and asks again gets a Produce, never another Wait."""
    q = queue(*queued)
    state = ChannelState()
    first = decide(state, 1, q, now=start, started_at=start)
    assert first == Wait(expected_until)
    second = decide(state, 1, q, now=first.until, started_at=start)
    assert second == Produce(1, with_events=bool(q))


# --------------------------------------------------------------------------------------------------
# acknowledge


@pytest.mark.parametrize(
    ("lowest", "next_", "ack", "expected_lowest"),
    [
        (1, 1, 1, 1),  # first P-GET
        (1, 2, 2, 2),  # acknowledges batch 1
        (1, 5, 3, 3),  # acknowledges 1 and 2 while asking for a replay of 3
        (3, 5, 3, 3),  # replay of the lowest: nothing new acknowledged
        (3, 5, 5, 5),  # everything produced is acknowledged
        (3, 5, 2, 3),  # stale: unchanged
        (3, 5, 0, 3),  # stale: unchanged
        (3, 5, 6, 3),  # future: unchanged
        (3, 5, 99, 3),  # future: unchanged
    ],
)
def test_acknowledge(lowest: int, next_: int, ack: int, expected_lowest: int) -> None:
    settings = ChannelSettings(timeout=240, low=20, medium=7)
    state = ChannelState(lowest=lowest, next=next_, settings=settings, resume_pending=True)
    got = acknowledge(state, ack)
    assert got.lowest == expected_lowest
    # nothing else changes
    assert got.next == next_
    assert got.settings == settings
    assert got.resume_pending is True
    if expected_lowest == lowest:
        assert got == state


# --------------------------------------------------------------------------------------------------
# due_at


@pytest.mark.parametrize(
    ("queued", "settings", "aggregation", "expected"),
    [
        ((), ChannelSettings(), True, None),
        ((), ChannelSettings(), False, None),
        (((H, 42),), ChannelSettings(), True, 42),
        (((M, 42),), ChannelSettings(), True, 47),
        (((L, 42),), ChannelSettings(), True, 57),
        (((L, 42),), ChannelSettings(low=100), True, 142),
        (((M, 42),), ChannelSettings(medium=30), True, 72),
        (((L, 0), (M, 12)), ChannelSettings(), True, 15),  # low deadline first
        (((L, 0), (M, 5)), ChannelSettings(), True, 10),  # medium deadline first
        (((L, 0), (M, 5), (H, 20)), ChannelSettings(), True, 10),
        (((L, 0), (M, 1), (H, 3)), ChannelSettings(), True, 3),  # high is earliest
        (((L, 7), (M, 8)), ChannelSettings(), False, 7),  # aggregation off: enqueue time
        (((M, 9), (L, 8)), ChannelSettings(), False, 8),
    ],
)
def test_due_at(
    queued: tuple[tuple[Priority, float], ...],
    settings: ChannelSettings,
    aggregation: bool,
    expected: float | None,
) -> None:
    assert due_at(queue(*queued), settings, aggregation) == expected


# --------------------------------------------------------------------------------------------------
# merge (§8.6)

Spec = tuple[str, str, str]  # (type, link rel, link href)


@pytest.mark.parametrize(
    ("events", "aggregation", "survivors"),
    [
        ((), True, []),
        ((("updated", "participant", "p1"),), True, [1]),
        ((("updated", "participant", "p1"), ("updated", "participant", "p1")), True, [2]),
        ((("updated", "participant", "p1"), ("updated", "participant", "p1")), False, [1, 2]),
        (
            (
                ("updated", "participant", "p1"),
                ("updated", "participant", "p2"),
                ("updated", "participant", "p1"),
            ),
            True,
            [2, 3],  # the survivor keeps its own, later place
        ),
        (
            (("updated", "me", "A/me"),) * 4,
            True,
            [4],
        ),
        (
            (
                ("added", "participant", "p1"),
                ("updated", "participant", "p1"),
                ("updated", "participant", "p1"),
            ),
            True,
            [1, 3],  # added never merged away
        ),
        (
            (("updated", "participant", "p1"), ("deleted", "participant", "p1")),
            True,
            [1, 2],  # deleted is no updated: no merge
        ),
        (
            (("started", "messagingInvitation", "i1"), ("completed", "messagingInvitation", "i1")),
            True,
            [1, 2],
        ),
        (
            (("completed", "message", "m1"), ("completed", "message", "m1")),
            True,
            [1, 2],
        ),
        (
            (("updated", "message", "m1"), ("updated", "message", "m1")),
            True,
            [1, 2],  # no message event is ever merged away
        ),
        (
            (
                ("started", "messagingInvitation", "i1"),
                ("updated", "messagingInvitation", "i1"),
                ("updated", "messagingInvitation", "i1"),
                ("completed", "messagingInvitation", "i1"),
            ),
            True,
            [1, 3, 4],
        ),
        (
            (
                ("updated", "participant", "p1"),
                ("updated", "contactPresence", "c1"),
                ("added", "contact", "c2"),
                ("updated", "contactPresence", "c1"),
                ("updated", "participant", "p1"),
                ("deleted", "contact", "c2"),
            ),
            True,
            [3, 4, 5, 6],
        ),
        (
            (
                ("updated", "participant", "p1"),
                ("updated", "contactPresence", "c1"),
                ("updated", "contactPresence", "c1"),
            ),
            False,
            [1, 2, 3],
        ),
    ],
)
def test_merge(events: tuple[Spec, ...], aggregation: bool, survivors: list[int]) -> None:
    evs = [stored(i, type_=t, rel=r, href=h) for i, (t, r, h) in enumerate(events, start=1)]
    got = merge(evs, aggregation)
    assert [e.position for e in got] == survivors
    # survivors are the very same objects (their bodies carry the latest content)
    assert all(e is evs[e.position - 1] for e in got)
    assert isinstance(got, list)


def test_merge_does_not_mutate_input() -> None:
    evs = [stored(i, href="same") for i in (1, 2, 3)]
    before = list(evs)
    merge(evs)
    merge(evs, aggregation=False)
    assert evs == before


def test_merge_aggregation_off_returns_a_copy() -> None:
    evs = [stored(1)]
    got = merge(evs, aggregation=False)
    assert got == evs
    assert got is not evs


# --------------------------------------------------------------------------------------------------
# ChannelSettings.updated (clamping, §8.1)

BASE = ChannelSettings(timeout=240, low=20, medium=8)


@pytest.mark.parametrize(
    ("base", "args", "expected"),
    [
        (ChannelSettings(), (None, None, None), ChannelSettings(180, 15, 5)),
        (BASE, (None, None, None), BASE),  # remembered values stay
        (BASE, (300, None, None), ChannelSettings(300, 20, 8)),
        (BASE, (None, 60, None), ChannelSettings(240, 60, 8)),
        (BASE, (None, None, 30), ChannelSettings(240, 20, 30)),
        (BASE, (180, 5, 5), ChannelSettings(180, 5, 5)),  # lower bounds inclusive
        (BASE, (1800, 1800, 1800), ChannelSettings(1800, 1800, 1800)),  # upper bounds inclusive
        (BASE, (179, 4, 4), ChannelSettings(180, 5, 5)),  # just below
        (BASE, (1801, 1801, 1801), ChannelSettings(1800, 1800, 1800)),  # just above
        (BASE, (0, 0, 0), ChannelSettings(180, 5, 5)),
        (BASE, (-10, -10, -10), ChannelSettings(180, 5, 5)),
        (BASE, (10**9, 10**9, 10**9), ChannelSettings(1800, 1800, 1800)),
        (BASE, (60, None, 4000), ChannelSettings(180, 20, 1800)),
    ],
)
def test_settings_updated(
    base: ChannelSettings, args: tuple[int | None, int | None, int | None], expected: ChannelSettings
) -> None:
    got = base.updated(*args)
    assert got == expected
    assert TIMEOUT_RANGE[0] <= got.timeout <= TIMEOUT_RANGE[1] or got.timeout == base.timeout
    assert LOW_RANGE[0] <= got.low <= LOW_RANGE[1] or got.low == base.low
    assert MEDIUM_RANGE[0] <= got.medium <= MEDIUM_RANGE[1] or got.medium == base.medium


def test_settings_defaults_and_ranges_match_spec() -> None:
    assert ChannelSettings() == ChannelSettings(timeout=180, low=15, medium=5)
    assert (TIMEOUT_RANGE, MEDIUM_RANGE, LOW_RANGE) == ((180, 1800), (5, 1800), (5, 1800))
    assert ChannelState() == ChannelState(lowest=1, next=1, settings=ChannelSettings(), resume_pending=False)


# --------------------------------------------------------------------------------------------------
# group_by_sender / page / resync_page (§8.3, §8.8, §8.9)

COMM = ("communication", "A/communication")
CONV = ("conversation", "C")
CONV2 = ("conversation", "C2")
ME = ("me", "A/me")


def by_senders(*senders: tuple[str, str]) -> list[StoredEvent]:
    return [stored(i, sender=s) for i, s in enumerate(senders, start=1)]


def block(sender: tuple[str, str], *ids: int) -> dict:
    return {
        "rel": sender[0],
        "href": sender[1],
        "events": [
            {"link": {"rel": "participant", "href": f"A/target/{i}"}, "id": i, "type": "updated"} for i in ids
        ],
    }


@pytest.mark.parametrize(
    ("senders", "expected"),
    [
        ((), []),
        ((COMM,), [block(COMM, 1)]),
        ((COMM, COMM, COMM), [block(COMM, 1, 2, 3)]),
        # the seed's step 6: communication, conversation, communication
        ((COMM, CONV, COMM), [block(COMM, 1), block(CONV, 2), block(COMM, 3)]),
        ((COMM, COMM, CONV, CONV, COMM), [block(COMM, 1, 2), block(CONV, 3, 4), block(COMM, 5)]),
        # same rel, different href: a different sender
        ((CONV, CONV2, CONV), [block(CONV, 1), block(CONV2, 2), block(CONV, 3)]),
        # same href, different rel: a different sender too
        ((("a", "X"), ("b", "X")), [block(("a", "X"), 1), block(("b", "X"), 2)]),
        ((ME, COMM, CONV, ME, ME), [block(ME, 1), block(COMM, 2), block(CONV, 3), block(ME, 4, 5)]),
    ],
)
def test_group_by_sender(senders: tuple[tuple[str, str], ...], expected: list[dict]) -> None:
    evs = by_senders(*senders)
    got = group_by_sender(evs)
    assert got == expected
    # global order is kept: flattening the blocks gives the input order back
    assert [e["id"] for b in got for e in b["events"]] == [e.position for e in evs]
    # no two adjacent blocks share a sender
    assert all((a["rel"], a["href"]) != (b["rel"], b["href"]) for a, b in itertools.pairwise(got))


def test_group_by_sender_accepts_an_iterator_and_embeds_bodies_as_is() -> None:
    evs = by_senders(COMM, CONV)
    got = group_by_sender(iter(evs))
    assert got[0]["events"][0] is evs[0].body
    assert got[1]["events"][0] is evs[1].body


@pytest.mark.parametrize(
    ("senders", "resume", "expected"),
    [
        (
            (COMM, CONV, COMM),
            False,
            {
                "_links": {"self": {"href": "A/events?ack=3"}, "next": {"href": "A/events?ack=4"}},
                "sender": [block(COMM, 1), block(CONV, 2), block(COMM, 3)],
            },
        ),
        # empty (timeout) response: just the links, no sender member
        ((), False, {"_links": {"self": {"href": "A/events?ack=3"}, "next": {"href": "A/events?ack=4"}}}),
        # resume: resume and next carry the same href
        (
            (),
            True,
            {
                "_links": {
                    "self": {"href": "A/events?ack=3"},
                    "resume": {"href": "A/events?ack=4"},
                    "next": {"href": "A/events?ack=4"},
                }
            },
        ),
    ],
)
def test_page(senders: tuple[tuple[str, str], ...], resume: bool, expected: dict) -> None:
    got = page("A/events?ack=3", "A/events?ack=4", by_senders(*senders), resume=resume)
    assert got == expected
    assert ("sender" in got) is bool(senders)
    assert ("resume" in got["_links"]) is resume
    assert "resync" not in got["_links"]


def test_resync_page() -> None:
    got = resync_page("A/events?ack=7")
    assert got == {"_links": {"resync": {"href": "A/events?ack=7"}}}
    assert "next" not in got["_links"] and "self" not in got["_links"]


# --------------------------------------------------------------------------------------------------
# Event.wire and Event.merge_key


def ev(**kw: object) -> Event:
    base: dict[str, object] = {
        "sender_rel": "conversation",
        "sender_href": "C",
        "type": "updated",
        "link_rel": "participant",
        "link_href": "C/participants/bob",
        "priority": H,
    }
    base.update(kw)
    return Event(**base)  # type: ignore[arg-type]


ERR = {"code": "Gone", "subcode": "Expired", "message": "x"}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (ev(), {"link": {"rel": "participant", "href": "C/participants/bob"}, "type": "updated"}),
        (
            ev(link_title="Bob"),
            {"link": {"rel": "participant", "href": "C/participants/bob", "title": "Bob"}, "type": "updated"},
        ),
        # `_embedded` keyed by link.rel, even when the resource's own rel differs (seed)
        (
            ev(
                type="added",
                link_rel="localParticipant",
                link_href="C/lp",
                embedded={"rel": "participant", "x": 1},
            ),
            {
                "link": {"rel": "localParticipant", "href": "C/lp"},
                "_embedded": {"localParticipant": {"rel": "participant", "x": 1}},
                "type": "added",
            },
        ),
        (
            ev(
                type="added",
                link_rel="participantMessaging",
                link_href="C/p/bob/messaging",
                in_={"rel": "participant", "href": "C/participants/bob", "title": "Bob"},
            ),
            {
                "link": {"rel": "participantMessaging", "href": "C/p/bob/messaging"},
                "in": {"rel": "participant", "href": "C/participants/bob", "title": "Bob"},
                "type": "added",
            },
        ),
        (
            ev(type="completed", link_rel="message", link_href="C/m/1", status="Success", embedded={"a": 1}),
            {
                "link": {"rel": "message", "href": "C/m/1"},
                "status": "Success",
                "_embedded": {"message": {"a": 1}},
                "type": "completed",
            },
        ),
        (
            ev(
                type="completed",
                link_rel="messagingInvitation",
                link_href="C/i",
                status="Failure",
                reason=ERR,
            ),
            {
                "link": {"rel": "messagingInvitation", "href": "C/i"},
                "status": "Failure",
                "reason": ERR,
                "type": "completed",
            },
        ),
        # an empty embedded resource is still embedded (only None means "link only")
        (
            ev(embedded={}),
            {
                "link": {"rel": "participant", "href": "C/participants/bob"},
                "_embedded": {"participant": {}},
                "type": "updated",
            },
        ),
        (
            ev(extra={"id": 5}),
            {"link": {"rel": "participant", "href": "C/participants/bob"}, "id": 5, "type": "updated"},
        ),
    ],
)
def test_event_wire(event: Event, expected: dict) -> None:
    got = event.wire()
    assert got == expected
    assert got["type"] == event.type
    assert got["link"]["rel"] == event.link_rel
    assert ("in" in got) is (event.in_ is not None)
    assert ("status" in got) is (event.status is not None)
    assert ("reason" in got) is (event.reason is not None)
    if "_embedded" in got:
        assert list(got["_embedded"]) == [event.link_rel]
    # wire() renders fresh dicts each time: mutating one does not change the next
    got["link"]["href"] = "mutated"
    assert event.wire()["link"]["href"] == event.link_href


@pytest.mark.parametrize(
    ("type_", "rel", "mergeable"),
    [
        ("updated", "participant", True),
        ("updated", "localParticipant", True),
        ("updated", "me", True),
        ("updated", "contactPresence", True),
        ("updated", "messagingInvitation", True),
        ("updated", "messaging", True),
        ("updated", "message", False),
        ("completed", "message", False),
        ("started", "message", False),
        ("added", "participant", False),
        ("deleted", "participant", False),
        ("started", "messagingInvitation", False),
        ("completed", "messagingInvitation", False),
    ],
)
def test_event_merge_key(type_: str, rel: str, mergeable: bool) -> None:
    e = ev(type=type_, link_rel=rel, link_href="A/some/target")
    assert e.merge_key == ("A/some/target" if mergeable else None)
