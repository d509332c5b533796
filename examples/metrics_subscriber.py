"""A metrics subscriber: count what the supervisor does, per event kind and per task.

Two variants of the same subscriber watch one run side by side:

- ``Metrics.on_event`` is a plain method: the event bus calls it from a worker thread of its
  own, in batches, so even a slow metrics backend (a blocking HTTP push, a lock) never delays
  the supervisor or its tasks.
- ``AsyncMetrics.on_event`` is ``async def``: the bus awaits it on the event loop, one event
  at a time; it must not block (here it yields once, as an async client would).

Both see every event in ``seq`` order and end with the same counts; the program prints them as
a table. Run: ``python examples/metrics_subscriber.py``.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict

import taskvisor as tv

EK = tv.EventKind


class Counts:
    """Events by kind, and per task: attempts, failures and the final outcome."""

    def __init__(self) -> None:
        self.by_kind: Counter[tv.EventKind] = Counter()
        self.attempts: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.outcome: dict[str, str] = {}
        self.last_seq = -1
        self.in_order = True

    def record(self, event: tv.Event) -> None:
        self.in_order &= event.seq > self.last_seq
        self.last_seq = event.seq
        self.by_kind[event.kind] += 1
        if event.task is None:
            return
        if event.kind is EK.TASK_STARTING:
            self.attempts[event.task] += 1
        elif event.kind is EK.TASK_FAILED:
            self.failures[event.task] += 1
        elif event.kind is EK.TASK_REMOVED and event.outcome is not None:
            self.outcome[event.task] = event.outcome.name


class Metrics(Counts):
    """The counts, gathered by a plain ``on_event`` (in a worker thread of its own)."""

    name = "metrics"
    queue_capacity = 256  # a bounded queue: beyond it, events are dropped (and reported)

    def on_event(self, event: tv.Event) -> None:
        self.record(event)


class AsyncMetrics(Counts):
    """The same counts, gathered by an ``async def on_event`` on the event loop."""

    name = "async-metrics"
    queue_capacity = 256

    async def on_event(self, event: tv.Event) -> None:
        await asyncio.sleep(0)  # where a real client would await its backend
        self.record(event)


def make_specs() -> list[tv.TaskSpec]:
    calls: defaultdict[str, int] = defaultdict(int)
    quick = tv.BackoffPolicy.constant(0.01)

    async def flaky(ctx: tv.TaskContext) -> None:
        calls["flaky"] += 1
        if calls["flaky"] <= 2:
            raise tv.Fail("boom")

    async def steady(ctx: tv.TaskContext) -> None:
        await asyncio.sleep(0.01)

    async def doomed(ctx: tv.TaskContext) -> None:
        raise ConnectionError("backend down")

    async def broken(ctx: tv.TaskContext) -> None:
        raise tv.Fatal("bad configuration", exit_code=2)

    return [
        tv.TaskSpec.restartable(tv.TaskFn("flaky", flaky), backoff=quick),
        tv.TaskSpec.once(steady),
        tv.TaskSpec.restartable(doomed, backoff=quick, max_retries=2),
        tv.TaskSpec.restartable(broken),
    ]


def print_tables(plain: Counts, coro: Counts) -> None:
    kinds = sorted(set(plain.by_kind) | set(coro.by_kind), key=lambda k: k.value)
    print(f"{'event kind':28} {'plain':>6} {'async':>6}")
    print("-" * 42)
    for kind in kinds:
        print(f"{kind.name:28} {plain.by_kind[kind]:>6} {coro.by_kind[kind]:>6}")
    print(f"{'total':28} {plain.by_kind.total():>6} {coro.by_kind.total():>6}")
    print()
    print(f"{'task':10} {'attempts':>8} {'failures':>8}  outcome")
    print("-" * 38)
    for task in sorted(plain.attempts):
        print(
            f"{task:10} {plain.attempts[task]:>8} {plain.failures[task]:>8}  "
            f"{plain.outcome.get(task, '?')}"
        )


async def main() -> None:
    plain, coro = Metrics(), AsyncMetrics()
    subscribers: list[tv.Subscriber] = [plain, coro]
    sup = tv.Supervisor(tv.SupervisorConfig(seed=1), subscribers=subscribers)
    await sup.run(make_specs())
    # ``run`` returns after the subscribers were drained: the counts are final.
    print_tables(plain, coro)
    same = plain.by_kind == coro.by_kind and plain.in_order and coro.in_order
    print()
    print("both variants saw the same events, in seq order" if same else "MISMATCH")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
