"""Property tests of the event-channel core against a small in-memory reference driver.

``Server`` below applies ``acknowledge`` / ``decide`` / ``merge`` exactly the way a store does
(SPEC §8.2, §8.5, §8.6, §8.9) and renders each batch once with ``events.page``; ``Client`` follows
``next``/``resync`` links like the sample client, but the test randomly loses responses, sends stale
or future acks, replaces pending P-GETs, advances the clock and resets the transient state. Every
event carries a unique ``id`` in its body so loss, duplication and reordering are detectable.

Timing and merge expectations are checked against independent re-implementations written here
(``ref_due``, ``ref_merged_away``), not against the functions under test.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace

import hypothesis.strategies as st
from hypothesis import event, given, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

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
    merge,
)
from openucwa.core.events import Event, Priority, StoredEvent, page

SENDERS = [
    ("communication", "A/communication"),
    ("conversation", "C"),
    ("me", "A/me"),
    ("people", "A/people"),
]
TYPES = ["added", "updated", "updated", "updated", "deleted", "started", "completed"]
RELS = ["participant", "participant", "message", "messagingInvitation", "contactPresence", "me"]
HREFS = ["A/t/1", "A/t/2", "A/t/3"]  # few targets, so merge keys collide often

EventSpec = tuple[int, str, str, str, Priority]

event_specs = st.tuples(
    st.integers(0, len(SENDERS) - 1),
    st.sampled_from(TYPES),
    st.sampled_from(RELS),
    st.sampled_from(HREFS),
    st.sampled_from(list(Priority)),
)
setting_params = st.none() | st.tuples(
    st.sampled_from([None, 100, 180, 240, 5000]),
    st.sampled_from([None, 1, 5, 15, 40, 3000]),
    st.sampled_from([None, 0, 5, 10, 25]),
)
clock_steps = st.sampled_from([0.5, 1, 3, 5, 10, 15, 40, 120, 180, 400])


# --------------------------------------------------------------------------------------------------
# independent references


def ref_due(queued: list[StoredEvent], s: ChannelSettings, aggregation: bool) -> float | None:
    """SPEC §8.5 rules 1–3 restated: the earliest moment any queued event forces a release."""
    if not queued:
        return None
    if not aggregation:
        return min(e.enqueued_at for e in queued)
    wait = {Priority.HIGH: 0, Priority.MEDIUM: s.medium, Priority.LOW: s.low}
    return min(e.enqueued_at + wait[e.priority] for e in queued)


def ref_merged_away(queued: list[StoredEvent], aggregation: bool) -> set[int]:
    """SPEC §8.6 restated on the wire bodies: an ``updated`` (not ``message``) event is dropped when a
    later ``updated`` (not ``message``) for the same href follows."""
    if not aggregation:
        return set()

    def mergeable(e: StoredEvent) -> bool:
        return e.body["type"] == "updated" and e.body["link"]["rel"] != "message"

    out = set()
    for i, e in enumerate(queued):
        if mergeable(e) and any(
            mergeable(f) and f.body["link"]["href"] == e.body["link"]["href"] for f in queued[i + 1 :]
        ):
            out.add(e.body["id"])
    return out


# --------------------------------------------------------------------------------------------------
# reference driver


@dataclass(frozen=True)
class Response:
    kind: str  # "page" | "resync"
    body: bytes


@dataclass
class Pending:
    ack: int
    started_at: float
    until: float
    lose: bool


@dataclass
class Server:
    aggregation: bool
    state: ChannelState = field(default_factory=ChannelState)
    queue: list[StoredEvent] = field(default_factory=list)
    batches: dict[int, bytes] = field(default_factory=dict)  # retained, pruned on ack
    history: dict[int, list[int]] = field(default_factory=dict)  # every batch ever produced: ids
    resume_batches: set[int] = field(default_factory=set)
    now: float = 0.0
    appended: list[int] = field(default_factory=list)
    merged_away: set[int] = field(default_factory=set)
    discarded: set[int] = field(default_factory=set)
    pending: Pending | None = None
    last_position: int = 0

    def href(self, n: int) -> str:
        return f"A/events?ack={n}"

    # -- mutations the application causes ---------------------------------------------------------

    def append(self, specs: list[EventSpec]) -> Response | None:
        """One trigger's events, enqueued atomically; a pending P-GET is re-evaluated (bus wake-up)."""
        for sender, type_, rel, href, prio in specs:
            self.last_position += 1
            ev = Event(
                sender_rel=SENDERS[sender][0],
                sender_href=SENDERS[sender][1],
                type=type_,
                link_rel=rel,
                link_href=href,
                priority=prio,
                extra={"id": self.last_position},
            )
            self.queue.append(
                StoredEvent(
                    position=self.last_position,
                    sender_rel=ev.sender_rel,
                    sender_href=ev.sender_href,
                    body=ev.wire(),
                    priority=ev.priority,
                    enqueued_at=self.now,
                    merge_key=ev.merge_key,
                )
            )
            self.appended.append(self.last_position)
        return self.wake() if self.pending else None

    def reset_transient_state(self) -> None:
        """SPEC §7.5: queued events discarded, settings back to defaults, next response carries resume."""
        assert self.pending is None
        self.discarded |= {e.position for e in self.queue}
        self.queue = []
        self.state = replace(self.state, settings=ChannelSettings(), resume_pending=True)

    # -- P-GETs -----------------------------------------------------------------------------------

    def request(self, ack: int | None, params: tuple | None, lose: bool) -> Response | None:
        """A new P-GET; a pending one is replaced (answered 409, which the model does not render)."""
        self.pending = None
        if params is not None:
            self.state = replace(self.state, settings=self.state.settings.updated(*params))
            s = self.state.settings
            assert TIMEOUT_RANGE[0] <= s.timeout <= TIMEOUT_RANGE[1]
            assert LOW_RANGE[0] <= s.low <= LOW_RANGE[1]
            assert MEDIUM_RANGE[0] <= s.medium <= MEDIUM_RANGE[1]
        in_range = ack is not None and self.state.lowest <= ack <= self.state.next
        if in_range:
            self.state = acknowledge(self.state, ack)
            assert self.state.lowest == ack
            self.batches = {n: b for n, b in self.batches.items() if n >= ack}
        elif ack is not None:
            assert acknowledge(self.state, ack) == self.state
        return self.evaluate(ack, started_at=self.now, lose=lose)

    def wake(self) -> Response | None:
        """The pending P-GET is evaluated again (new events, or its timer fired)."""
        p = self.pending
        assert p is not None
        return self.evaluate(p.ack, started_at=p.started_at, lose=p.lose)

    def advance(self, dt: float) -> list[Response]:
        """Moves the clock; a pending P-GET's timer fires at exactly its ``until``."""
        target = self.now + dt
        out: list[Response] = []
        for _ in range(100):
            if self.pending is None or self.pending.until > target:
                break
            self.now = self.pending.until
            r = self.wake()
            if r is not None:
                out.append(r)
        else:
            raise AssertionError("timer keeps firing without releasing the P-GET")
        self.now = target
        return out

    def evaluate(self, ack: int | None, *, started_at: float, lose: bool) -> Response | None:
        st_ = self.state
        d = decide(st_, ack, self.queue, now=self.now, started_at=started_at, aggregation=self.aggregation)
        in_range = ack is not None and st_.lowest <= ack <= st_.next
        timeout_at = started_at + st_.settings.timeout
        due = ref_due(self.queue, st_.settings, self.aggregation)
        self.pending = None
        event(f"decision: {type(d).__name__}" + (" resume" if isinstance(d, Produce) and d.resume else ""))

        if isinstance(d, Resync):
            assert not in_range
            assert d.ack == st_.lowest
            resp = Response("resync", json.dumps({"_links": {"resync": {"href": self.href(d.ack)}}}).encode())
        elif isinstance(d, Replay):
            assert in_range and ack < st_.next
            assert d.number == ack
            assert d.number in self.batches, "replay of a pruned or never produced batch"
            resp = Response("page", self.batches[d.number])
        elif isinstance(d, Produce):
            assert in_range and ack == st_.next
            assert d.number == ack
            assert d.number not in self.history, "a batch number was produced twice"
            assert d.resume == st_.resume_pending
            if d.resume:
                assert not d.with_events
                released: list[StoredEvent] = []
            else:
                # released only when rule 1–3 or rule 4 (timeout) holds, and then with everything queued
                assert (due is not None and due <= self.now) or timeout_at <= self.now
                assert d.with_events == bool(self.queue)
                released = self.queue if d.with_events else []
            survivors = merge(released, self.aggregation) if released else []
            self.check_merge(released, survivors)
            if len(survivors) < len(released):
                event("merged events away")
            self.merged_away |= {e.position for e in released} - {e.position for e in survivors}
            if released:
                self.queue = []
            body = json.dumps(
                page(self.href(d.number), self.href(d.number + 1), survivors, resume=d.resume)
            ).encode()
            self.batches[d.number] = body
            self.history[d.number] = [e.body["id"] for e in survivors]
            if d.resume:
                self.resume_batches.add(d.number)
            self.state = replace(st_, next=d.number + 1, resume_pending=False)
            resp = Response("page", body)
        else:
            assert isinstance(d, Wait)
            assert in_range and ack == st_.next and not st_.resume_pending
            assert due is None or due > self.now, "a due event was left waiting"
            assert timeout_at > self.now
            assert d.until == (timeout_at if due is None else min(due, timeout_at))
            assert d.until > self.now
            self.pending = Pending(ack, started_at, d.until, lose)
            return None
        return None if lose else resp

    def check_merge(self, released: list[StoredEvent], survivors: list[StoredEvent]) -> None:
        positions = [e.position for e in survivors]
        assert positions == sorted(positions), "merge reordered events"
        assert set(positions) <= {e.position for e in released}
        gone = [e for e in released if e.position not in set(positions)]
        assert {e.body["id"] for e in gone} == ref_merged_away(released, self.aggregation)
        if not self.aggregation:
            assert gone == []
        for e in gone:  # property (c)
            assert e.body["type"] == "updated" and e.body["link"]["rel"] != "message"
            assert e.merge_key == e.body["link"]["href"]
            assert any(s.merge_key == e.merge_key and s.position > e.position for s in survivors)

    def expected_ids(self) -> list[int]:
        return [i for i in self.appended if i not in self.merged_away and i not in self.discarded]


@dataclass
class Client:
    """Follows ``next`` and ``resync``; remembers each batch's first delivery."""

    ack: int = 1
    accepted: list[int] = field(default_factory=list)
    first_delivery: dict[int, bytes] = field(default_factory=dict)
    resumes: list[int] = field(default_factory=list)
    resyncs: int = 0
    replays_seen: int = 0

    def receive(self, r: Response, asked: int | None) -> None:
        doc = json.loads(r.body)
        links = doc["_links"]
        if r.kind == "resync":
            assert set(links) == {"resync"} and set(doc) == {"_links"}
            self.ack = int(links["resync"]["href"].rsplit("=", 1)[1])
            self.resyncs += 1
            return
        n = int(links["self"]["href"].rsplit("=", 1)[1])
        assert n == asked, "the answer is for another batch than the one asked for"
        assert links["next"]["href"] == f"A/events?ack={n + 1}"
        if "resume" in links:
            assert links["resume"] == links["next"]
            assert "sender" not in doc, "a resume page carries no events"
        if n in self.first_delivery:  # property (d): a replay is the first delivery, byte for byte
            assert r.body == self.first_delivery[n]
            self.replays_seen += 1
            event("client saw a replay of a batch it had")
        else:
            assert n == len(self.first_delivery) + 1, "a batch was skipped"
            self.first_delivery[n] = r.body
            blocks = doc.get("sender", [])
            senders = [(b["rel"], b["href"]) for b in blocks]
            assert all(a != b for a, b in itertools.pairwise(senders)), "split sender block"
            for block in blocks:
                assert block["events"], "empty sender block"
                self.accepted.extend(e["id"] for e in block["events"])
            if "resume" in links:
                self.resumes.append(n)
        self.ack = n + 1


# --------------------------------------------------------------------------------------------------
# the state machine


class ChannelMachine(RuleBasedStateMachine):
    AGGREGATION = True

    def __init__(self) -> None:
        super().__init__()
        self.server = Server(aggregation=self.AGGREGATION)
        self.client = Client()

    def deliver(self, r: Response | None, asked: int | None) -> None:
        if r is not None:
            self.client.receive(r, asked)

    # -- the application and the clock ------------------------------------------------------------

    @rule(specs=st.lists(event_specs, min_size=1, max_size=4))
    def append(self, specs: list[EventSpec]) -> None:
        asked = self.server.pending.ack if self.server.pending else None
        self.deliver(self.server.append(specs), asked)

    @rule(dt=clock_steps)
    def advance(self, dt: float) -> None:
        asked = self.server.pending.ack if self.server.pending else None
        for r in self.server.advance(dt):
            self.deliver(r, asked)

    @precondition(lambda self: self.server.pending is not None)
    @rule()
    def timer_fires(self) -> None:
        self.advance(self.server.pending.until - self.server.now)

    @precondition(lambda self: self.server.pending is None)
    @rule()
    def transient_state_reset(self) -> None:
        self.server.reset_transient_state()

    # -- the client ---------------------------------------------------------------------------------

    @rule(lose=st.booleans(), params=setting_params)
    def poll(self, lose: bool, params: tuple | None) -> None:
        """P-GET for the client's ack; replaces any pending one. ``lose`` drops its eventual answer."""
        ack = self.client.ack
        self.deliver(self.server.request(ack, params, lose), ack)

    @precondition(lambda self: self.server.pending is not None)
    @rule(params=setting_params)
    def replace_pending(self, params: tuple | None) -> None:
        """A second P-GET for the same ack while one waits: only the newer one is evaluated."""
        ack = self.server.pending.ack
        assert ack == self.client.ack
        self.deliver(self.server.request(ack, params, False), ack)

    @rule(kind=st.sampled_from(["missing", "below", "above"]), offset=st.integers(1, 5), lose=st.booleans())
    def bad_ack(self, kind: str, offset: int, lose: bool) -> None:
        s = self.server.state
        ack = {"missing": None, "below": s.lowest - offset, "above": s.next + offset}[kind]
        lowest_before = s.lowest
        r = self.server.request(ack, None, lose)
        if not lose:
            assert r is not None and r.kind == "resync"
            self.deliver(r, ack)
            assert self.client.ack == lowest_before
        assert self.server.pending is None

    @rule()
    def drain(self) -> None:
        """Property (e): once appends stop, everything queued reaches the client within the release
        deadline of the events already queued (immediately with aggregation off)."""
        srv, cl = self.server, self.client
        start = srv.now
        queued_at_start = [e.position for e in srv.queue]
        s = srv.state.settings
        # the pending P-GET, if any, was sent by this client: let it be answered first
        if srv.pending is not None:
            self.timer_fires()
        for _ in range(20):
            if not srv.queue and not srv.state.resume_pending and cl.ack == srv.state.next:
                break
            if srv.pending is not None:
                self.timer_fires()
            else:
                self.poll(lose=False, params=None)
        else:
            raise AssertionError("the channel did not drain")
        assert srv.queue == []
        assert not srv.state.resume_pending
        assert cl.ack == srv.state.next
        assert cl.accepted == srv.expected_ids()
        delivered = set(cl.accepted)
        assert all(p in delivered or p in srv.merged_away for p in queued_at_start)
        if queued_at_start:
            bound = start + (max(s.low, s.medium) if srv.aggregation else 0)
            assert srv.now <= bound, (srv.now, bound)

    # -- invariants ---------------------------------------------------------------------------------

    @invariant()
    def conservation(self) -> None:
        """Property (a) on the server side: produced batches + queue = appended − merged − discarded."""
        srv = self.server
        produced = [i for n in sorted(srv.history) for i in srv.history[n]]
        assert produced + [e.position for e in srv.queue] == srv.expected_ids()
        assert sorted(srv.history) == list(range(1, srv.state.next))
        assert srv.merged_away.isdisjoint(produced)
        assert srv.discarded.isdisjoint(produced)

    @invariant()
    def client_sees_a_prefix(self) -> None:
        """Property (a) on the client side: no loss, no duplicate, no reordering so far."""
        srv, cl = self.server, self.client
        seen = len(cl.first_delivery)
        assert cl.accepted == [i for n in range(1, seen + 1) for i in srv.history[n]]
        assert len(set(cl.accepted)) == len(cl.accepted)
        assert cl.resumes == sorted(n for n in srv.resume_batches if n <= seen)

    @invariant()
    def numbering(self) -> None:
        srv, cl = self.server, self.client
        s = srv.state
        assert 1 <= s.lowest <= s.next
        assert s.lowest <= cl.ack <= s.next
        assert sorted(srv.batches) == list(range(s.lowest, s.next)), "retained batches are not [lowest, next)"
        if srv.pending is not None:
            assert srv.pending.ack == s.next
            assert srv.pending.until > srv.now

    @invariant()
    def no_merge_without_aggregation(self) -> None:
        """Property (b)."""
        if not self.server.aggregation:
            assert self.server.merged_away == set()

    def teardown(self) -> None:
        self.drain()


class ChannelMachineNoAggregation(ChannelMachine):
    AGGREGATION = False


MACHINE_SETTINGS = settings(max_examples=120, stateful_step_count=40, deadline=None)
TestChannelWithAggregation = ChannelMachine.TestCase
TestChannelWithAggregation.settings = MACHINE_SETTINGS
TestChannelWithoutAggregation = ChannelMachineNoAggregation.TestCase
TestChannelWithoutAggregation.settings = MACHINE_SETTINGS


# --------------------------------------------------------------------------------------------------
# stand-alone properties of merge


def stored_from(specs: list[EventSpec]) -> list[StoredEvent]:
    out = []
    for i, (sender, type_, rel, href, prio) in enumerate(specs, start=1):
        ev = Event(SENDERS[sender][0], SENDERS[sender][1], type_, rel, href, prio, extra={"id": i})
        out.append(StoredEvent(i, ev.sender_rel, ev.sender_href, ev.wire(), prio, 0.0, ev.merge_key))
    return out


@settings(max_examples=200, deadline=None)
@given(specs=st.lists(event_specs, max_size=12), aggregation=st.booleans())
def test_merge_matches_reference(specs: list[EventSpec], aggregation: bool) -> None:
    evs = stored_from(specs)
    got = merge(evs, aggregation)
    expected = [e for e in evs if e.body["id"] not in ref_merged_away(evs, aggregation)]
    assert got == expected
    # idempotent, and one survivor per merge key
    assert merge(got, aggregation) == got
    if aggregation:
        keys = [e.merge_key for e in got if e.merge_key is not None]
        assert len(keys) == len(set(keys))
