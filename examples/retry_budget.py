"""A shared retry budget: six workers of one database restart no faster than it can take.

The database is down for the first 4 seconds. Without a budget the six workers would retry
on their own schedules, all hammering it; here they share ``RetryBudget(1, burst=2)``: each
restart after a failure takes a token, two may go at once, then one per second. A restart
that finds no token waits for the next one (``BACKOFF_SCHEDULED`` with source ``BUDGET``),
in the order the restarts were due; none is dropped. Runs on virtual time (an instant).

Run: ``python examples/retry_budget.py``.
"""

from __future__ import annotations

from collections import Counter

import taskvisor as tv
from taskvisor.testing import VirtualClock

DOWN_UNTIL = 4.0


class Explain:
    """Prints each wait for a token (an async subscriber: delivered on the event loop)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.start = clock.now()

    async def on_event(self, ev: tv.Event) -> None:
        d = ev.decision
        if d is not None and d.source is tv.BackoffSource.BUDGET:
            at = ev.at - self.start
            print(f"t={at:4.1f}  {ev.task}: no token, waits {d.budget_wait:.1f}s more")


async def run(clock: VirtualClock, budget: tv.RetryBudget | None) -> list[int]:
    """The six workers until all are connected; the database's attempts per second."""
    hits: Counter[int] = Counter()
    start = clock.now()

    async def worker(ctx: tv.TaskContext) -> None:
        now = clock.now() - start
        hits[int(now)] += 1
        if now < DOWN_UNTIL:
            raise tv.Fail("connection refused")
        if budget is not None:
            print(f"t={now:4.1f}  {ctx.name}: connected (attempt {ctx.attempt})")

    name = None if budget is None else "db"
    config = tv.SupervisorConfig(seed=1, retry_budgets={} if budget is None else {"db": budget})
    backoff = tv.BackoffPolicy.constant(0.5)
    specs = [
        tv.TaskSpec.restartable(worker, name=f"worker-{i}", backoff=backoff, retry_budget=name)
        for i in range(1, 7)
    ]
    subscribers = [] if budget is None else [Explain(clock)]
    await tv.Supervisor(config, subscribers=subscribers).run(specs)
    return [hits[s] for s in range(max(hits) + 1)]


async def main(clock: VirtualClock) -> None:
    with_budget = await run(clock, tv.RetryBudget(1, burst=2))
    without = await run(clock, None)
    print("database attempts per second, with the budget:   ", with_budget)
    print("database attempts per second, without a budget:  ", without)


clock = VirtualClock()
clock.run(main(clock))
