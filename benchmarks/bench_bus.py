"""Throughput of the runtime's event bus: events per second through publish and delivery.

Publishes N events as the supervisor does (the core's rule picks the recipients: only
subscribers with room; a full queue drops for that subscriber alone, I5), yielding to the loop
every ``BURST`` events. To measure what delivery sustains rather than how much a saturated bus
drops, the publisher waits for room when a *counting* subscriber is full (the supervisor never
waits); the blocking subscriber is treated as the supervisor treats everyone: its overflow is
dropped and counted. Timing runs until every counting subscriber has taken all N events.
The "never waits" rows publish exactly as the supervisor does, at full speed, and show how
much a plain subscriber's thread hops keep up with a loop that never pauses.
Scenarios: 0, 1, 4 and 8 plain counting subscribers, one ``async`` counting subscriber, and
one subscriber that blocks (``time.sleep`` per event) next to a counting one. The baseline is
appending N events to a list in the same process.

Run: ``python benchmarks/bench_bus.py`` (``PYTHONPATH=src`` if the package is not installed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel

from taskvisor.fsm import Event, EventKind
from taskvisor.runtime._bus import EventBus

N = 100_000
BURST = 64
CAPACITY = 1024
REPEATS = 3
BLOCK_S = 0.001  # the blocking subscriber's sleep per event


class Counting:
    def __init__(self) -> None:
        self.count = 0
        self.queue_capacity = CAPACITY

    def on_event(self, event: Event) -> None:
        self.count += 1


class AsyncCounting(Counting):
    async def on_event(self, event: Event) -> None:  # type: ignore[override]
        self.count += 1


class Blocking(Counting):
    name = "blocking"

    def on_event(self, event: Event) -> None:
        time.sleep(BLOCK_S)
        self.count += 1


def _events(n: int) -> list[Event]:
    return [Event(seq, 0.0, EventKind.TASK_STARTING, task="t", attempt=1) for seq in range(n)]


async def _through_bus(
    subs: list[Any], events: list[Event], watched: list[int], wait: bool
) -> dict[str, Any]:
    """Publish ``events``; return the time until every ``watched`` subscriber caught up.

    With ``wait``, a watched subscriber with a full queue makes the publisher wait for room
    (so the figure is what delivery sustains, not how much is dropped). Any other subscriber,
    and every one without ``wait``, is treated as the supervisor treats subscribers: an event
    that finds its queue full is dropped for it and counted.
    """
    n_subs = len(subs)
    depth = [0] * n_subs
    taken = [0] * n_subs
    dropped = [0] * n_subs
    done = anyio.Event()
    room = anyio.Event()
    waiting = False
    target = len(events)
    waits_for = [wait and i in watched for i in range(n_subs)]

    def check() -> None:
        if all(taken[i] + dropped[i] == target for i in watched):
            done.set()

    def on_consumed(index: int, n: int) -> None:
        nonlocal room
        depth[index] -= n
        taken[index] += n
        if waiting:
            room.set()
            room = anyio.Event()
        if taken[index] + dropped[index] == target:
            check()

    bus = EventBus(subs, on_consumed=on_consumed, on_panic=lambda i, r: None)
    caps = [info.capacity for info in bus.infos]
    publish = bus.publish
    everyone = range(n_subs)
    async with anyio.create_task_group() as tg:
        tg.start_soon(bus.run)
        await anyio.sleep(0.01)  # workers are up
        t0 = time.perf_counter()
        for k, event in enumerate(events):
            recipients = []
            for i in everyone:  # the core's offer(): only subscribers with room (I5)
                while waits_for[i] and depth[i] >= caps[i]:
                    waiting = True
                    await room.wait()
                    waiting = False
                if depth[i] < caps[i]:
                    depth[i] += 1
                    recipients.append(i)
                else:
                    dropped[i] += 1
            publish(event, tuple(recipients))
            if k % BURST == BURST - 1:
                await anyio.lowlevel.checkpoint()
        check()
        await done.wait()
        elapsed = time.perf_counter() - t0
        await bus.aclose(0.0)  # abandons a blocked worker at once
    return {"elapsed": elapsed, "delivered": [s.count for s in subs], "dropped": dropped}


def _baseline(events: list[Event]) -> float:
    sink: list[Event] = []
    append = sink.append
    t0 = time.perf_counter()
    for event in events:
        append(event)
    return time.perf_counter() - t0


Scenario = tuple[str, Callable[[], list[Any]], list[int], bool]


def _best(backend: str, scenario: Scenario, events: list[Event]) -> dict[str, Any]:
    """The fastest of ``REPEATS`` runs, each with fresh subscribers."""
    _, make, watched, wait = scenario
    runs = [
        anyio.run(_through_bus, make(), events, watched, wait, backend=backend)
        for _ in range(REPEATS)
    ]
    return min(runs, key=lambda r: float(r["elapsed"]))


def main() -> None:
    events = _events(N)
    base = min(_baseline(events) for _ in range(5))
    print(f"event bus throughput, N={N:,} events, burst {BURST}, queue capacity {CAPACITY}")
    print(f"baseline: list.append {N / base:,.0f} ev/s ({base / N * 1e6:.3f} us/ev)")
    blocking = f"blocking ({BLOCK_S * 1e3:g} ms/ev) + counting"
    scenarios: list[Scenario] = [
        ("0 subscribers", lambda: [], [], True),
        ("1 counting", lambda: [Counting()], [0], True),
        ("4 counting", lambda: [Counting() for _ in range(4)], [0, 1, 2, 3], True),
        ("8 counting", lambda: [Counting() for _ in range(8)], list(range(8)), True),
        ("1 async counting", lambda: [AsyncCounting()], [0], True),
        (blocking, lambda: [Blocking(), Counting()], [1], True),
        ("1 counting, never waits", lambda: [Counting()], [0], False),
        ("1 async counting, never waits", lambda: [AsyncCounting()], [0], False),
    ]
    header = (
        f"{'backend':8} {'scenario':34} {'ev/s':>12} {'us/ev':>7} {'x list':>7}"
        "  delivered/dropped per subscriber"
    )
    print(header)
    print("-" * len(header))
    for backend in ("asyncio", "trio"):
        for scenario in scenarios:
            r = _best(backend, scenario, events)
            rate = N / r["elapsed"]
            counts = ", ".join(
                f"{d:,}/{x:,}" for d, x in zip(r["delivered"], r["dropped"], strict=True)
            )
            us = r["elapsed"] / N * 1e6
            slower = r["elapsed"] / base
            label = scenario[0]
            print(f"{backend:8} {label:34} {rate:>12,.0f} {us:>7.2f} {slower:>7.0f}  {counts}")


if __name__ == "__main__":
    main()
