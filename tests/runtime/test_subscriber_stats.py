"""``h.subscriber_stats()`` and the bus's recovery hook (docs/spec/api.md section 9).

The totals are the runtime bus's own counts: ``delivered`` (handed to ``on_event``), ``dropped``
(every event offered to the bus that did not reach the subscriber), ``panicked``, and ``queued``
(waiting now, including the rest of a batch a worker thread is delivering). Every async test runs
on asyncio and trio.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import anyio
import anyio.lowlevel
import pytest

import taskvisor as tv
from taskvisor import Event, EventKind
from taskvisor.runtime._bus import EventBus

pytestmark = pytest.mark.anyio

EK = EventKind


def ev(seq: int) -> Event:
    return Event(seq, 0.0, EK.TASK_STARTING, task="t")


class Calls:
    """What the bus reports to the driver, in order (panics and recoveries interleaved)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, int, int]] = []  # (what, subscriber index, seq of the event)
        self.consumed = 0

    def bus(self, subscribers: list[object]) -> EventBus:
        return EventBus(
            subscribers,
            on_consumed=self.on_consumed,
            on_panic=lambda i, reason, kind: self.log.append(("panic", i, int(reason[-1]))),
            on_recovered=lambda i: self.log.append(("recovered", i, -1)),
        )

    def on_consumed(self, index: int, n: int) -> None:
        self.consumed += n


class FailsOn:
    """Raises ``ValueError("seq N")`` for the events whose seq is listed (single digits)."""

    def __init__(self, bad: set[int]) -> None:
        self.bad = bad

    def on_event(self, event: Event) -> None:
        if event.seq in self.bad:
            raise ValueError(f"seq {event.seq}")


class AsyncFailsOn(FailsOn):
    async def on_event(self, event: Event) -> None:  # type: ignore[override]
        await anyio.lowlevel.checkpoint()
        super().on_event(event)


async def _publish_all(bus: EventBus, n: int, *, one_by_one: bool) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(bus.run)
        for seq in range(n):
            bus.publish(ev(seq), (0,))
            if one_by_one:
                await anyio.sleep(0.001)
        await bus.aclose(10.0)


@pytest.mark.parametrize("cls", [FailsOn, AsyncFailsOn])
@pytest.mark.parametrize("one_by_one", [True, False], ids=["one-by-one", "batched"])
async def test_recovery_is_reported_once_after_each_run_of_panics(
    cls: type[FailsOn], one_by_one: bool
) -> None:
    calls = Calls()
    bus = calls.bus([cls({1, 2, 5})])
    await _publish_all(bus, 8, one_by_one=one_by_one)
    assert calls.log == [
        ("panic", 0, 1),
        ("panic", 0, 2),
        ("recovered", 0, -1),
        ("panic", 0, 5),
        ("recovered", 0, -1),
    ]
    [stats] = bus.subscriber_stats()
    assert (stats.delivered, stats.panicked, stats.dropped, stats.queued) == (8, 3, 0, 0)


async def test_a_subscriber_that_never_panics_is_never_reported_recovered() -> None:
    calls = Calls()
    bus = calls.bus([FailsOn(set())])
    await _publish_all(bus, 5, one_by_one=True)
    assert calls.log == []


async def test_a_subscriber_still_failing_at_the_end_is_not_reported_recovered() -> None:
    calls = Calls()
    bus = calls.bus([FailsOn({3, 4})])
    await _publish_all(bus, 5, one_by_one=True)
    assert calls.log == [("panic", 0, 3), ("panic", 0, 4)]


def test_an_event_a_subscriber_is_not_a_recipient_of_counts_as_dropped_for_it() -> None:
    calls = Calls()
    bus = calls.bus([FailsOn(set()), FailsOn(set())])
    bus.publish(ev(0), (0, 1))
    bus.publish(ev(1), (1,))  # the core found subscriber 0's queue full
    bus.publish(ev(2), ())  # ... and both
    first, second = bus.subscriber_stats()
    assert (first.name, first.dropped, first.queued, first.delivered) == ("FailsOn", 2, 1, 0)
    assert (second.name, second.dropped, second.queued) == ("FailsOn-2", 1, 2)


def test_subscriber_stats_is_a_public_frozen_value() -> None:
    stats = tv.SubscriberStats("log", delivered=3, dropped=1, panicked=0, queued=2)
    assert stats == tv.SubscriberStats("log", 3, 1, 0, 2)
    with pytest.raises(AttributeError):
        stats.delivered = 4  # type: ignore[misc]


# -- through a running supervisor ------------------------------------------------------------


class Everything:
    """A plain subscriber with room for every event: sees all of them."""

    name = "all"
    queue_capacity = 100_000

    def __init__(self) -> None:
        self.kinds: list[EventKind] = []

    def on_event(self, event: Event) -> None:
        self.kinds.append(event.kind)


class Stuck:
    """A plain subscriber with a queue of 2 that blocks in its first ``on_event`` until freed."""

    name = "stuck"
    queue_capacity = 2

    def __init__(self) -> None:
        self.free = threading.Event()
        self.entered = threading.Event()

    def on_event(self, event: Event) -> None:
        self.entered.set()
        self.free.wait(30)


async def _until(cond: Callable[[], bool]) -> None:
    """Poll ``cond`` (a worker thread's progress, which no anyio event reports) for up to 10 s."""
    with anyio.fail_after(10):
        while not cond():  # noqa: ASYNC110 - the condition changes in another thread
            await anyio.sleep(0.005)


async def test_a_stalled_subscriber_has_every_drop_counted_while_others_see_everything() -> None:
    everything, stuck = Everything(), Stuck()
    sup = tv.Supervisor(tv.SupervisorConfig(seed=0), subscribers=[everything, stuck])
    spec = tv.TaskSpec.restartable(
        tv.TaskFn("flaky", _always_fails), max_retries=30, backoff=tv.BackoffPolicy.constant(0)
    )
    try:
        async with sup.serve() as h:
            _, waiter = await h.add_and_watch(spec)
            assert (await waiter.wait()).kind is tv.OutcomeKind.FAILED
            await _until(stuck.entered.is_set)
            # Nothing more is published until the shutdown: let "all" catch up.
            await _until(lambda: h.subscriber_stats()[0].queued == 0)
            seen = len(everything.kinds)
            await _until(lambda: h.subscriber_stats()[0].delivered == len(everything.kinds))
            all_, stalled = h.subscriber_stats()
            assert (all_.name, all_.delivered, all_.dropped, all_.panicked) == ("all", seen, 0, 0)
            # "stuck" is inside its first on_event with one more event waiting for it (its
            # queue of 2 is full): every other event offered was dropped, and counted.
            assert stalled.name == "stuck"
            assert (stalled.delivered, stalled.queued) == (1, 1)
            assert stalled.dropped == seen - 2
            overflow_reports = everything.kinds.count(EK.SUBSCRIBER_OVERFLOW)
            assert 1 <= overflow_reports < stalled.dropped
            stuck.free.set()
    finally:
        stuck.free.set()
    all_, stalled = h.subscriber_stats()  # totals since the start, still readable afterwards
    # Both were offered the same events (reports published after the final drain began are
    # dropped for everyone).
    assert all_.delivered == len(everything.kinds)
    assert stalled.delivered + stalled.dropped == all_.delivered + all_.dropped
    assert (stalled.queued, all_.queued) == (0, 0)


async def _always_fails(ctx: tv.TaskContext) -> None:
    raise tv.Fail("down")


async def test_panics_are_counted_each_time() -> None:
    class Broken:
        name = "broken"

        def on_event(self, event: Event) -> None:
            raise RuntimeError("bug")

    everything = Everything()
    sup = tv.Supervisor(subscribers=[Broken(), everything])
    spec = tv.TaskSpec.restartable(
        tv.TaskFn("flaky", _always_fails), max_retries=3, backoff=tv.BackoffPolicy.constant(0)
    )
    async with sup.serve() as h:
        _, waiter = await h.add_and_watch(spec)
        await waiter.wait()
    broken, all_ = h.subscriber_stats()
    assert broken.name == "broken"
    assert broken.panicked == broken.delivered > 0  # every call raised, every one counted
    assert all_.delivered == len(everything.kinds)
    assert broken.delivered + broken.dropped == all_.delivered + all_.dropped
