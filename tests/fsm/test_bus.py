"""Tests for ``taskvisor.fsm._bus`` (subscriber queue accounting, I5) and how the supervisor
machine reports a full queue (SUBSCRIBER_OVERFLOW, never for a diagnostic event)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskvisor import TaskSpec
from taskvisor.fsm import (
    EndKind,
    EventKind,
    EventsConsumed,
    Publish,
    SubscriberInfo,
    SubscriberPanicked,
    SubscriberRecovered,
)
from taskvisor.fsm._bus import BusState, consumed, offer

from .driver import Driver, fn

EK = EventKind


def test_offer_accepts_where_there_is_room_and_counts_drops() -> None:
    bus = BusState.empty(3)
    caps = (1, 2, 3)
    bus, accepted, full = offer(bus, caps)
    assert (accepted, full) == ((0, 1, 2), ())
    bus, accepted, full = offer(bus, caps)
    assert (accepted, full) == ((1, 2), (0,))
    assert bus == BusState((1, 2, 2), (1, 0, 0), (1, 2, 2), frozenset({0}))
    # 0 is still full: counted, but its episode was already reported; 1 starts its own.
    bus, accepted, full = offer(bus, caps)
    assert (accepted, full) == ((2,), (1,))
    assert bus == BusState((1, 2, 3), (2, 1, 0), (1, 2, 3), frozenset({0, 1}))
    bus = consumed(bus, 1, 2)
    assert tuple(bus.depths) == (1, 0, 3)
    assert tuple(bus.high_water) == (1, 2, 3)  # the high-water mark stays
    assert bus.overflowing == frozenset({0})  # taking events ends subscriber 1's episode
    bus = consumed(bus, 0, 0)
    assert bus.overflowing == frozenset({0})  # taking nothing does not


@given(
    st.lists(
        st.tuples(st.integers(1, 4), st.integers(0, 4), st.booleans()), min_size=1, max_size=4
    ),
    st.integers(0, 6),
)
def test_take_is_offer_where_it_decides_and_writes_nothing_where_it_does_not(
    subs: list[tuple[int, int, bool]], offers: int
) -> None:
    # ``take`` is the hot path's shortcut for ``offer``: the same state and recipients when it
    # answers (room everywhere, or one subscriber already overflowing); otherwise it changes
    # nothing and leaves the decision to ``offer``.
    caps = tuple(cap for cap, _, _ in subs)
    start = tuple(min(depth, cap) for cap, depth, _ in subs)
    episodes = {i for i, (_, _, over) in enumerate(subs) if over}
    fast = BusState(start, start, start, episodes)
    slow = BusState(start, start, start, episodes)
    for _ in range(offers):
        before = fast.snapshot()
        recipients = fast.take(caps)
        if recipients is None:
            assert any(d >= c for d, c in zip(fast.depths, caps, strict=True))
            assert fast.snapshot() == before
            return
        slow, accepted, report = offer(slow, caps)
        assert (recipients, report) == (accepted, ())
        assert fast == slow


def test_no_subscribers() -> None:
    assert offer(BusState.empty(0), ()) == (BusState((), (), ()), (), ())


def test_a_diagnostic_drop_is_counted_and_starts_no_episode() -> None:
    bus, _, _ = offer(BusState.empty(1), (1,))
    bus, accepted, report = offer(bus, (1,), diagnostic=True)
    assert (accepted, report) == ((), ())
    assert tuple(bus.dropped) == (1,)
    assert bus.overflowing == frozenset()
    bus, accepted, report = offer(bus, (1,))
    assert report == (0,)


@pytest.mark.parametrize(("count", "depth"), [(-1, 0), (1, 0), (3, 2)])
def test_consuming_more_than_queued_or_a_negative_count_is_an_error(count: int, depth: int) -> None:
    bus = BusState((depth,), (0,), (depth,))
    with pytest.raises(ValueError, match="consumed"):
        consumed(bus, 0, count)


ops = st.lists(
    st.one_of(
        st.just(("offer", 0, 0)),
        st.tuples(st.just("consume"), st.integers(0, 2), st.integers(0, 5)),
    ),
    max_size=60,
)


@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), ops)
def test_bus_matches_a_plain_model(caps: list[int], script: list[tuple[str, int, int]]) -> None:
    n = len(caps)
    bus = BusState.empty(n)
    depth, dropped, high = [0] * n, [0] * n, [0] * n
    episode: set[int] = set()
    for op, index, count in script:
        if op == "offer":
            bus, accepted, report = offer(bus, tuple(caps))
            for i in range(n):
                if depth[i] < caps[i]:
                    depth[i] += 1
                    assert i in accepted
                    assert i not in report
                else:
                    dropped[i] += 1
                    assert i not in accepted
                    # Reported once per episode: only when it was not already overflowing.
                    assert (i in report) == (i not in episode)
                    episode.add(i)
                high[i] = max(high[i], depth[i])
        else:
            i = index % n
            take = min(count, depth[i])
            bus = consumed(bus, i, take)
            depth[i] -= take
            if take:
                episode.discard(i)
        assert bus == BusState(tuple(depth), tuple(dropped), tuple(high), frozenset(episode))
        assert all(0 <= d <= c for d, c in zip(bus.depths, caps, strict=True))  # I5


# -- the supervisor's reports ---------------------------------------------------------------------


def test_a_full_queue_drops_for_that_subscriber_alone_and_reports_an_overflow() -> None:
    subs = [SubscriberInfo("fast", 100), SubscriberInfo("slow", 2)]
    d = Driver.make(subscribers=subs, auto_ack=False)
    tid = d.add(TaskSpec.once(fn("x")))  # ADD_REQUESTED, ADDED, STARTING: the third overflows
    publishes = [e for e in d.effects if isinstance(e, Publish)]
    kinds = [(p.event.kind, p.recipients) for p in publishes]
    assert kinds == [
        (EK.TASK_ADD_REQUESTED, (0, 1)),
        (EK.TASK_ADDED, (0, 1)),
        (EK.TASK_STARTING, (0,)),
        (EK.SUBSCRIBER_OVERFLOW, (0,)),
    ]
    overflow = publishes[-1].event
    assert overflow.task == "slow"
    assert overflow.task_id is None
    assert overflow.reason == (
        "queue full (capacity 2): dropped TASK_STARTING #2; "
        "dropping until it catches up (1 dropped so far)"
    )
    # The overflow event itself found the slow queue full: counted, but not reported again.
    assert tuple(d.state.bus.dropped) == (0, 2)
    assert tuple(d.state.bus.depths) == (4, 2)
    assert tuple(d.state.bus.high_water) == (4, 2)
    # Reliable results do not depend on events (rule 6): the task still ran and finished.
    d.end(tid, EndKind.RETURNED)
    assert d.outcome(tid).attempts == 1


def test_a_dropped_diagnostic_event_is_not_reported() -> None:
    d = Driver.make(subscribers=[SubscriberInfo("only", 1)], auto_ack=False)
    d.feed(SubscriberPanicked(0, "boom"))  # fills the queue
    d.feed(SubscriberRecovered(0))  # a new panic episode may be reported again
    effects = d.feed(SubscriberPanicked(0, "boom again"))  # dropped: no overflow for it
    assert [(e.event.kind, e.recipients) for e in effects if isinstance(e, Publish)] == [
        (EK.SUBSCRIBER_PANICKED, ())
    ]
    assert tuple(d.state.bus.dropped) == (1,)


def test_every_full_subscriber_gets_its_own_overflow_report() -> None:
    subs = [SubscriberInfo("a", 1), SubscriberInfo("b", 1), SubscriberInfo("c", 5)]
    d = Driver.make(subscribers=subs, auto_ack=False)
    d.add(TaskSpec.once(fn("x")))
    overflows = [e for e in d.events if e.kind is EK.SUBSCRIBER_OVERFLOW]
    # ADDED found a and b full: one report each, in subscriber order; STARTING, dropped in the
    # same episode, is counted but not reported again.
    assert [e.task for e in overflows] == ["a", "b"]
    assert tuple(d.state.bus.dropped)[:2] == (4, 4)  # ADDED, 2 overflow reports, STARTING


def test_acknowledged_events_make_room_again() -> None:
    d = Driver.make(subscribers=[SubscriberInfo("s", 3)], auto_ack=False)
    tid = d.add(TaskSpec.once(fn("x")))
    assert tuple(d.state.bus.depths) == (3,)
    d.feed(EventsConsumed(0, 3))
    effects = d.end(tid, EndKind.RETURNED)  # STOPPED, EXHAUSTED, REMOVED all fit
    assert all(e.recipients == (0,) for e in effects if isinstance(e, Publish))
    assert tuple(d.state.bus.dropped) == (0,)
    assert tuple(d.state.bus.high_water) == (3,)


def test_seq_stays_consecutive_across_overflow_reports() -> None:
    d = Driver.make(subscribers=[SubscriberInfo("s", 1)], auto_ack=False)
    d.add_batch([TaskSpec.once(fn(n)) for n in "abc"])
    assert [e.seq for e in d.events] == list(range(len(d.events)))


@pytest.mark.parametrize(
    ("kind", "reported"),
    [
        (None, True),
        (EK.TASK_FAILED, True),
        (EK.SUBSCRIBER_PANICKED, False),
        (EK.SUBSCRIBER_OVERFLOW, False),
    ],
)
def test_a_panic_is_reported_unless_it_happened_on_a_diagnostic_event(
    kind: EventKind | None, reported: bool
) -> None:
    # The core decides (rule 5): a subscriber failing on every event must not be fed its own
    # SUBSCRIBER_PANICKED reports forever.
    d = Driver.make(subscribers=[SubscriberInfo("s", 8)])
    effects = d.feed(SubscriberPanicked(0, "RuntimeError: no", kind))
    kinds = [e.event.kind for e in effects if isinstance(e, Publish)]
    assert kinds == ([EK.SUBSCRIBER_PANICKED] if reported else [])


def test_a_panic_is_reported_once_per_episode() -> None:
    # docs/spec/api.md section 9: one SUBSCRIBER_PANICKED when a subscriber starts raising;
    # the next only after it handled an event without raising (SubscriberRecovered).
    d = Driver.make(subscribers=[SubscriberInfo("s", 8)])

    def reports(inp: SubscriberPanicked | SubscriberRecovered) -> int:
        effects = d.feed(inp)
        return sum(
            1 for e in effects if isinstance(e, Publish) and e.event.kind is EK.SUBSCRIBER_PANICKED
        )

    assert reports(SubscriberPanicked(0, "RuntimeError: 1", EK.TASK_ADDED)) == 1
    assert reports(SubscriberPanicked(0, "RuntimeError: 2", EK.TASK_ADDED)) == 0
    assert reports(SubscriberPanicked(0, "RuntimeError: 3", EK.TASK_ADDED)) == 0
    assert d.state.bus.panicking == {0}
    assert reports(SubscriberRecovered(0)) == 0
    assert d.state.bus.panicking == set()
    assert reports(SubscriberPanicked(0, "RuntimeError: 4", EK.TASK_ADDED)) == 1


def test_the_high_water_mark_is_the_deepest_a_queue_got() -> None:
    caps = (5, 1)  # subscriber 1 fills after one event: every later offer reports it full
    bus = BusState.empty(2)
    for _ in range(3):
        bus, _, _ = offer(bus, caps)
    assert tuple(bus.depths) == (3, 1)
    assert tuple(bus.high_water) == (3, 1)
    bus = consumed(bus, 0, 3)
    bus, accepted, _ = offer(bus, caps)  # a drop for subscriber 1: the "full" path
    assert accepted == (0,)
    assert tuple(bus.depths) == (1, 1)
    assert tuple(bus.high_water) == (3, 1)  # not the current depth: the deepest ever
    assert tuple(bus.dropped) == (0, 3)


def test_a_bus_state_reprs_its_counters_and_overflow_episodes() -> None:
    bus = BusState((1, 0), (3, 0), (2, 1), {1}, {0})
    assert repr(bus) == (
        "BusState(depths=(1, 0), dropped=(3, 0), high_water=(2, 1), overflowing={1})"
    )


def test_a_copy_keeps_every_counter_and_both_kinds_of_episode() -> None:
    # SupervisorState.copy copies the bus: a subscriber in a panic episode must stay in it.
    bus = BusState((1, 0), (3, 0), (2, 1), {1}, {0})
    copy = bus.copy()
    assert copy == bus
    assert copy.snapshot() == ((1, 0), (3, 0), (2, 1), frozenset({1}), frozenset({0}))
    copy.depths[0] = 5
    assert bus.depths == [1, 0]  # a copy, not a view
