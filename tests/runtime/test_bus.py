"""EventBus: per-subscriber order, batching, threads vs loop, panics, drain and abandon (I5).

Every async test runs on asyncio and on trio (``anyio_backend`` in conftest.py), on the real
clock: a plain ``on_event`` runs in a worker thread, and virtual time does not wait for threads.
So nothing here measures how fast something happens; what a blocked subscriber must not hold
up is proved structurally (it stays blocked until the test has seen the rest happen), and the
one duration checked (a drain's timeout) has a bound that holds on a loaded machine
(``REAL_TIME_SLACK``). Nothing waits a fixed time hoping work is done: ``until`` polls with a
deadline.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from runtime_support import REAL_TIME_SLACK

from taskvisor import ConfigError, Event, EventKind
from taskvisor.fsm import CoreConfig, Publish, SubscriberPanicked, SupervisorState, step
from taskvisor.fsm._bus import BusState, consumed, offer
from taskvisor.runtime._bus import EventBus

pytestmark = pytest.mark.anyio

EK = EventKind


def ev(seq: int, kind: EventKind = EK.TASK_STARTING) -> Event:
    return Event(seq, seq / 1000, kind, task=f"t{seq}")


class Driver:
    """Stands in for the runtime driver: records what the bus reports, and where."""

    def __init__(self) -> None:
        self.loop_thread = threading.get_ident()
        self.consumed: Counter[int] = Counter()
        self.consumed_calls: list[tuple[int, int]] = []
        self.panics: list[tuple[int, str]] = []
        self.panic_kinds: list[EventKind] = []
        self.off_loop_calls = 0

    def on_consumed(self, index: int, n: int) -> None:
        if threading.get_ident() != self.loop_thread:
            self.off_loop_calls += 1
        self.consumed[index] += n
        self.consumed_calls.append((index, n))

    def on_panic(self, index: int, reason: str, kind: EventKind) -> None:
        if threading.get_ident() != self.loop_thread:
            self.off_loop_calls += 1
        self.panics.append((index, reason))
        self.panic_kinds.append(kind)

    def bus(self, subscribers: list[Any]) -> EventBus:
        return EventBus(subscribers, on_consumed=self.on_consumed, on_panic=self.on_panic)


class Counting:
    """A plain subscriber that records what it saw and on which thread."""

    def __init__(self, name: str | None = None, capacity: int = 1024) -> None:
        if name is not None:
            self.name = name
        self.queue_capacity = capacity
        self.seen: list[int] = []
        self.threads: set[int] = set()

    def on_event(self, event: Event) -> None:
        self.threads.add(threading.get_ident())
        self.seen.append(event.seq)


class AsyncCounting(Counting):
    async def on_event(self, event: Event) -> None:  # type: ignore[override]
        self.threads.add(threading.get_ident())
        await anyio.lowlevel.checkpoint()
        self.seen.append(event.seq)


async def until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``within`` seconds.

    Polling, because what it watches is mutated by worker threads that signal nothing.
    """
    with anyio.fail_after(within):
        while not predicate():  # noqa: ASYNC110
            await anyio.sleep(0.002)


async def serve(bus: EventBus, body: Callable[[], Awaitable[None]], close: float = 5.0) -> None:
    """Run the bus's workers around ``body``, then close the bus with ``close`` seconds."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(bus.run)
        await body()
        await bus.aclose(close)


# -- order, batching, threads ---------------------------------------------------------------


async def test_each_subscriber_sees_events_in_seq_order() -> None:
    driver = Driver()
    subs: list[Counting] = [Counting("a"), AsyncCounting("b"), Counting("c")]
    bus = driver.bus(subs)
    rng = random.Random(7)

    async def body() -> None:
        for seq in range(600):
            bus.publish(ev(seq), (0, 1, 2))
            if rng.random() < 0.2:  # let the workers interleave with publishing
                await anyio.lowlevel.checkpoint()
            await until(lambda: max(bus.queued()) < 1000)

    await serve(bus, body)
    for sub in subs:
        assert sub.seen == list(range(600))


async def test_plain_subscriber_gets_everything_queued_in_one_thread_hop() -> None:
    driver = Driver()
    sub = Counting()
    bus = driver.bus([sub])

    async def body() -> None:
        for seq in range(100):  # no checkpoint: all 100 are queued before the worker runs
            bus.publish(ev(seq), (0,))
        await until(lambda: len(sub.seen) == 100)

    await serve(bus, body)
    assert driver.consumed_calls == [(0, 100)]


async def test_plain_on_event_runs_off_the_loop_and_async_on_event_on_it() -> None:
    driver = Driver()
    plain, coro = Counting("plain"), AsyncCounting("coro")
    bus = driver.bus([plain, coro])

    async def body() -> None:
        for seq in range(10):
            bus.publish(ev(seq), (0, 1))
            await anyio.lowlevel.checkpoint()
        await until(lambda: len(plain.seen) == len(coro.seen) == 10)

    await serve(bus, body)
    assert driver.loop_thread not in plain.threads
    assert coro.threads == {driver.loop_thread}
    assert driver.off_loop_calls == 0


async def test_async_subscriber_reports_each_event_as_it_is_consumed() -> None:
    driver = Driver()
    sub = AsyncCounting()
    bus = driver.bus([sub])

    async def body() -> None:
        for seq in range(5):
            bus.publish(ev(seq), (0,))
        await until(lambda: len(sub.seen) == 5)

    await serve(bus, body)
    assert driver.consumed_calls == [(0, 1)] * 5


async def test_on_event_returning_an_awaitable_is_awaited_in_order_on_the_loop() -> None:
    driver = Driver()
    seen: list[tuple[int, int]] = []

    class Deferred:
        def on_event(self, event: Event) -> Awaitable[None]:
            async def later() -> None:
                await anyio.lowlevel.checkpoint()
                seen.append((event.seq, threading.get_ident()))

            return later()

    bus = driver.bus([Deferred()])

    async def body() -> None:
        for seq in range(20):
            bus.publish(ev(seq), (0,))
        await until(lambda: len(seen) == 20)

    await serve(bus, body)
    assert [s for s, _ in seen] == list(range(20))
    assert {t for _, t in seen} == {driver.loop_thread}
    assert driver.consumed[0] == 20


async def test_awaitables_returned_now_and_then_are_awaited_and_their_errors_reported() -> None:
    driver = Driver()
    seen: list[int] = []

    class Sometimes:
        def on_event(self, event: Event) -> Awaitable[None] | None:
            if event.seq % 2:
                seen.append(event.seq)
                return None

            async def later() -> None:
                await anyio.lowlevel.checkpoint()
                if event.seq in (0, 4):  # the first one still came through the thread hop
                    raise KeyError(event.seq)
                seen.append(event.seq)

            return later()

    bus = driver.bus([Sometimes()])

    async def body() -> None:
        for seq in range(8):
            bus.publish(ev(seq), (0,))

    await serve(bus, body)
    assert seen == [1, 2, 3, 5, 6, 7]
    assert driver.panics == [(0, "KeyError: 0"), (0, "KeyError: 4")]
    assert driver.consumed[0] == 8


async def test_an_exception_that_cannot_be_printed_is_still_reported() -> None:
    driver = Driver()

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str for you")

    class Raiser:
        def on_event(self, event: Event) -> None:
            raise Unprintable

    bus = driver.bus([Raiser()])

    async def body() -> None:
        bus.publish(ev(0), (0,))

    await serve(bus, body)
    assert driver.panics == [(0, "Unprintable: <unprintable>")]


async def test_consumed_totals_equal_what_was_published_per_subscriber() -> None:
    driver = Driver()
    subs = [Counting("a"), AsyncCounting("b"), Counting("c")]
    bus = driver.bus(subs)
    rng = random.Random(3)
    published: Counter[int] = Counter()

    async def body() -> None:
        for seq in range(400):
            recipients = tuple(i for i in range(3) if rng.random() < 0.6)
            bus.publish(ev(seq), recipients)
            published.update(recipients)
            if rng.random() < 0.3:
                await anyio.lowlevel.checkpoint()

    await serve(bus, body)
    assert dict(driver.consumed) == dict(published)
    assert [len(s.seen) for s in subs] == [published[0], published[1], published[2]]
    assert driver.off_loop_calls == 0


async def test_reports_keep_the_cores_queue_accounting_exact() -> None:
    """Drive the real core rule (``offer``/``consumed``): no report ever exceeds the depth."""
    caps = (4, 3)
    state = BusState.empty(2)
    delivered: list[list[int]] = [[], []]

    class Slow:
        name = "slow"
        queue_capacity = caps[0]

        def on_event(self, event: Event) -> None:
            time.sleep(0.001)
            delivered[0].append(event.seq)

    class Quick:
        name = "quick"
        queue_capacity = caps[1]

        async def on_event(self, event: Event) -> None:
            delivered[1].append(event.seq)

    def on_consumed(index: int, n: int) -> None:
        nonlocal state
        state = consumed(state, index, n)  # raises if n exceeds what the core counts queued

    bus = EventBus([Slow(), Quick()], on_consumed=on_consumed, on_panic=lambda i, r, k: None)
    accepted: Counter[int] = Counter()

    async def body() -> None:
        nonlocal state
        for seq in range(300):
            state, recipients, _full = offer(state, caps)
            accepted.update(recipients)
            bus.publish(ev(seq), recipients)
            if seq % 3 == 0:
                await anyio.lowlevel.checkpoint()
            assert all(q <= c for q, c in zip(bus.queued(), caps, strict=True))  # I5

    await serve(bus, body)
    assert tuple(state.depths) == (0, 0)
    assert sum(state.dropped) > 0  # the slow one overflowed, and that was counted
    assert [len(d) for d in delivered] == [accepted[0], accepted[1]]
    assert all(d == sorted(d) for d in delivered)


# -- panics ---------------------------------------------------------------------------------


class Flaky:
    """Raises on every third event, records the rest."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_event(self, event: Event) -> None:
        if event.seq % 3 == 2:
            raise ValueError(f"bad {event.seq}")
        self.seen.append(event.seq)


class AsyncFlaky(Flaky):
    async def on_event(self, event: Event) -> None:  # type: ignore[override]
        await anyio.lowlevel.checkpoint()
        super().on_event(event)


@pytest.mark.parametrize("cls", [Flaky, AsyncFlaky])
async def test_exception_in_on_event_is_reported_and_delivery_goes_on(cls: type[Flaky]) -> None:
    driver = Driver()
    sub = cls()
    bus = driver.bus([Counting(), sub])

    async def body() -> None:
        for seq in range(9):
            bus.publish(ev(seq), (1,))
            await anyio.lowlevel.checkpoint()

    await serve(bus, body)
    assert sub.seen == [0, 1, 3, 4, 6, 7]
    assert driver.panics == [(1, f"ValueError: bad {n}") for n in (2, 5, 8)]
    assert driver.consumed[1] == 9
    assert bus.stats()[1].panicked == 3
    assert bus.stats()[1].delivered == 9


async def test_every_panic_reaches_the_core_with_its_kind_and_the_core_skips_diagnostics() -> None:
    driver = Driver()

    class AlwaysFails:
        def on_event(self, event: Event) -> None:
            raise RuntimeError("no")

    bus = driver.bus([AlwaysFails()])

    async def body() -> None:
        bus.publish(ev(0), (0,))
        bus.publish(ev(1, EK.SUBSCRIBER_PANICKED), (0,))
        bus.publish(ev(2, EK.SUBSCRIBER_OVERFLOW), (0,))

    await serve(bus, body)
    # The bus reports every panic with the kind of the event; the core decides (rule 5).
    assert driver.panics == [(0, "RuntimeError: no")] * 3
    assert driver.panic_kinds == [EK.TASK_STARTING, EK.SUBSCRIBER_PANICKED, EK.SUBSCRIBER_OVERFLOW]
    assert bus.stats()[0].panicked == 3
    # Reporting the last two would feed the subscriber its own SUBSCRIBER_PANICKED forever: the
    # core publishes a report for the first panic only.
    state = SupervisorState.initial(CoreConfig(subscribers=bus.infos))
    reported = []
    for (index, reason), kind in zip(driver.panics, driver.panic_kinds, strict=True):
        state, effects = step(state, SubscriberPanicked(index, reason, kind), 0, random.Random(0))
        reported += [e.event.kind for e in effects if isinstance(e, Publish)]
    assert reported == [EK.SUBSCRIBER_PANICKED]


class Escape(BaseException):
    """Stands for KeyboardInterrupt / SystemExit: a BaseException that is not an Exception."""


@pytest.mark.parametrize("is_async", [False, True])
async def test_base_exceptions_from_on_event_are_not_swallowed(is_async: bool) -> None:
    driver = Driver()

    class Plain:
        def on_event(self, event: Event) -> None:
            raise Escape

    class Coro:
        async def on_event(self, event: Event) -> None:
            raise Escape

    bus = driver.bus([Coro() if is_async else Plain()])
    with pytest.raises(BaseExceptionGroup) as info:  # noqa: PT012 - the task group raises it
        async with anyio.create_task_group() as tg:
            tg.start_soon(bus.run)
            bus.publish(ev(0), (0,))
            bus.publish(ev(1), (0,))
            await anyio.sleep_forever()
    assert info.group_contains(Escape)
    assert driver.panics == []
    await bus.aclose(1.0)  # what the supervisor does on its way out
    assert bus.stats()[0].delivered == 1
    assert bus.stats()[0].dropped == 1
    assert driver.consumed[0] == 2  # accounting stays exact


# -- a blocking subscriber slows nobody -----------------------------------------------------


async def test_blocking_plain_subscriber_stalls_neither_the_loop_nor_other_subscribers() -> None:
    driver = Driver()

    release = threading.Event()

    class Blocker:
        name = "blocker"

        def __init__(self) -> None:
            self.seen: list[int] = []

        def on_event(self, event: Event) -> None:
            self.seen.append(event.seq)
            release.wait(30)  # blocked until the test has seen everything else happen

    blocker, quick, quick_async = Blocker(), Counting("quick"), AsyncCounting("quick-async")
    bus = driver.bus([blocker, quick, quick_async])
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        for _ in range(20):
            await anyio.sleep(0.001)
            ticks += 1

    async def body() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            for seq in range(50):
                bus.publish(ev(seq), (0, 1, 2))
                await anyio.lowlevel.checkpoint()
            await until(lambda: len(quick.seen) == len(quick_async.seen) == 50)
            await until(lambda: blocker.seen == [0])  # its thread may start late: wait for it
        # Every other subscriber got all 50 and the loop ticked 20 times, all while the
        # blocker was inside its first call (released only below): it held up nobody.
        assert ticks == 20
        assert blocker.seen == [0]
        assert not release.is_set()

    try:
        await serve(bus, body, close=0.0)
    finally:
        release.set()
    assert quick.seen == list(range(50))


# -- closing --------------------------------------------------------------------------------


async def test_aclose_lets_the_workers_drain_what_is_queued() -> None:
    driver = Driver()

    class Slowish(Counting):
        def on_event(self, event: Event) -> None:
            time.sleep(0.005)
            super().on_event(event)

    class AsyncSlowish(Counting):
        async def on_event(self, event: Event) -> None:  # type: ignore[override]
            await anyio.sleep(0.005)
            self.seen.append(event.seq)

    subs: list[Counting] = [Slowish("s"), AsyncSlowish("a")]
    bus = driver.bus(subs)

    async def body() -> None:
        for seq in range(40):
            bus.publish(ev(seq), (0, 1))

    t0 = time.monotonic()
    await serve(bus, body, close=30.0)
    elapsed = time.monotonic() - t0
    assert [s.seen for s in subs] == [list(range(40))] * 2
    assert [st.dropped for st in bus.stats()] == [0, 0]
    # Drained (about 0.2 s of work) and returned then, not at the 30 s timeout.
    assert elapsed < 0.2 + REAL_TIME_SLACK
    assert dict(driver.consumed) == {0: 40, 1: 40}


async def test_aclose_with_stuck_subscribers_returns_near_its_timeout() -> None:
    driver = Driver()
    release = threading.Event()

    class StuckThread:
        name = "stuck-thread"

        def __init__(self) -> None:
            self.seen: list[int] = []
            self.returned = threading.Event()

        def on_event(self, event: Event) -> None:
            self.seen.append(event.seq)
            release.wait(30)  # "forever", until the test lets go
            self.returned.set()

    class StuckAsync:
        name = "stuck-async"

        def __init__(self) -> None:
            self.seen: list[int] = []

        async def on_event(self, event: Event) -> None:
            self.seen.append(event.seq)
            await anyio.sleep_forever()

    stuck, stuck_async, ok = StuckThread(), StuckAsync(), Counting("ok")
    bus = driver.bus([stuck, stuck_async, ok])
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(bus.run)
            bus.publish(ev(0), (0, 1, 2))
            await until(lambda: stuck.seen == stuck_async.seen == [0])
            for seq in range(1, 6):
                bus.publish(ev(seq), (0, 1, 2))
            await until(lambda: ok.seen == list(range(6)))
            t0 = time.monotonic()
            await bus.aclose(0.3)
            elapsed = time.monotonic() - t0
            bus.publish(ev(6), (0, 1, 2))  # after close: dropped and counted
        # It waited its timeout for the stuck ones, and not much more (a loaded machine's
        # scheduling delay at most).
        assert 0.3 - 0.05 <= elapsed < 0.3 + REAL_TIME_SLACK, elapsed
        thread_stats, async_stats, ok_stats = bus.stats()
        assert thread_stats.abandoned
        assert thread_stats.delivered == 1
        assert thread_stats.dropped == 6  # five queued behind the stuck call, one after close
        assert async_stats.delivered == 1
        assert async_stats.dropped == 6
        assert ok_stats.delivered == 6
        assert ok_stats.dropped == 1
        # Everything taken off a queue before aclose returned was reported to the driver.
        assert dict(driver.consumed) == {0: 6, 1: 6, 2: 6}
    finally:
        release.set()
    assert await anyio.to_thread.run_sync(stuck.returned.wait, 30)
    # A negative check: give a worker that wrongly went on the time to show itself.
    await anyio.sleep(0.05)
    assert stuck.seen == [0]  # the abandoned thread delivered nothing more once let go


async def test_aclose_without_run_drains_the_queues_itself() -> None:
    driver = Driver()
    sub, coro = Counting(), AsyncCounting()
    bus = driver.bus([sub, coro])
    for seq in range(5):
        bus.publish(ev(seq), (0, 1))
    await bus.aclose(5.0)
    assert sub.seen == coro.seen == list(range(5))
    await bus.run()  # returns at once: the bus is closed
    await bus.aclose(5.0)  # idempotent
    assert dict(driver.consumed) == {0: 5, 1: 5}


async def test_run_twice_is_an_error() -> None:
    bus = Driver().bus([Counting()])
    async with anyio.create_task_group() as tg:
        tg.start_soon(bus.run)
        await anyio.wait_all_tasks_blocked()  # run() has started its workers
        with pytest.raises(RuntimeError, match="already started"):
            await bus.run()
        await bus.aclose(1.0)


async def test_events_beyond_capacity_are_dropped_counted_and_reported() -> None:
    """The core never lists a full recipient; the bus guards I5 anyway."""
    driver = Driver()
    sub = Counting(capacity=3)
    bus = driver.bus([sub])
    for seq in range(5):  # nothing runs yet: the queue fills at 3
        bus.publish(ev(seq), (0,))
    assert bus.queued() == (3,)
    await bus.aclose(5.0)
    assert sub.seen == [0, 1, 2]
    assert bus.stats()[0].dropped == 2
    assert driver.consumed[0] == 5


# -- construction ---------------------------------------------------------------------------


def test_names_come_from_the_name_attribute_or_the_class_and_are_made_unique() -> None:
    subs = [Counting(), Counting(), Counting("x"), Counting("x"), Counting("Counting-2")]
    bus = EventBus(subs, on_consumed=lambda i, n: None, on_panic=lambda i, r, k: None)
    assert [i.name for i in bus.infos] == ["Counting", "Counting-3", "x", "x-2", "Counting-2"]
    assert len({s.name for s in bus.stats()}) == 5


def test_capacity_comes_from_queue_capacity_with_a_default_of_1024() -> None:
    class Bare:
        def on_event(self, event: Event) -> None:
            pass

    bus = EventBus([Bare(), Counting(capacity=7)], on_consumed=print, on_panic=print)
    assert [i.capacity for i in bus.infos] == [1024, 7]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "8", True, None])
def test_bad_queue_capacity_is_a_config_error_naming_subscriber_and_field(bad: object) -> None:
    sub = Counting("metrics")
    sub.queue_capacity = bad  # type: ignore[assignment]
    with pytest.raises(ConfigError, match=r"subscriber 'metrics'\.queue_capacity") as info:
        EventBus([Counting(), sub], on_consumed=print, on_panic=print)
    assert info.value.field == "subscriber 'metrics'.queue_capacity"


@pytest.mark.parametrize("sub", [object(), type("NotCallable", (), {"on_event": 3})()])
def test_subscriber_without_a_callable_on_event_is_a_config_error(sub: object) -> None:
    with pytest.raises(ConfigError, match=r"subscribers\[1\]\.on_event.*no callable on_event"):
        EventBus([Counting(), sub], on_consumed=print, on_panic=print)


def test_a_name_that_is_not_a_nonempty_str_is_a_config_error() -> None:
    sub = Counting()
    sub.name = ""
    with pytest.raises(ConfigError, match=r"subscribers\[0\]\.name"):
        EventBus([sub], on_consumed=print, on_panic=print)


@pytest.mark.parametrize("bad", [-1.0, float("nan")])
async def test_negative_or_nan_close_timeout_is_a_config_error(bad: float) -> None:
    bus = Driver().bus([])
    with pytest.raises(ConfigError, match="timeout"):
        await bus.aclose(bad)


async def test_an_infinite_close_timeout_waits_for_the_drain() -> None:
    sub = Counting()
    bus = Driver().bus([sub])
    bus.publish(ev(0), (0,))
    await bus.aclose(float("inf"))
    assert sub.seen == [0]
