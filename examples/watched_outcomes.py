"""Watched outcomes: ``add_and_watch`` gives a waiter whose result never depends on events.

Every way a task can end, side by side. The outcome is delivered after the task has left
``handle.list()``, even when subscribers fall behind: here a subscriber with a queue of 2 that
takes 50 ms per event drops most events (and the supervisor reports the drops), yet every
waiter gets its outcome.

Run: ``python examples/watched_outcomes.py``.
"""

from __future__ import annotations

import asyncio

import taskvisor as tv


async def completes(ctx: tv.TaskContext) -> None:
    await asyncio.sleep(0.01)


async def flaky(ctx: tv.TaskContext) -> None:
    if ctx.attempt < 3:
        raise ValueError(f"bad input on attempt {ctx.attempt}")


async def always_fails(ctx: tv.TaskContext) -> None:
    raise tv.Fail("upstream down", exit_code=75)


async def misconfigured(ctx: tv.TaskContext) -> None:
    raise tv.Fatal("missing API key", exit_code=78)


async def hangs(ctx: tv.TaskContext) -> None:
    await asyncio.sleep(3600)


async def gives_up(ctx: tv.TaskContext) -> None:
    raise tv.Canceled("nothing to do today")


async def waits_for_cancel(ctx: tv.TaskContext) -> None:
    await ctx.cancelled()


class SlowDashboard:
    """Far too slow for the event rate: its bounded queue overflows."""

    name = "dashboard"
    queue_capacity = 2

    async def on_event(self, ev: tv.Event) -> None:
        await asyncio.sleep(0.05)


class Drops:
    def __init__(self) -> None:
        self.overflows = 0

    def on_event(self, ev: tv.Event) -> None:
        if ev.kind is tv.EventKind.SUBSCRIBER_OVERFLOW:
            self.overflows += 1


async def main() -> None:
    fast = tv.BackoffPolicy.constant(0.01)
    specs = [
        tv.TaskSpec.once(completes),
        tv.TaskSpec.restartable(flaky, backoff=fast),
        tv.TaskSpec.restartable(always_fails, max_retries=2, backoff=fast),
        tv.TaskSpec.restartable(misconfigured),
        tv.TaskSpec.once(hangs, timeout=0.05),
        tv.TaskSpec.restartable(gives_up),
        tv.TaskSpec(waits_for_cancel),
    ]
    drops = Drops()
    config = tv.SupervisorConfig(subscriber_shutdown_timeout=0.1)
    async with tv.Supervisor(config, subscribers=[SlowDashboard(), drops]).serve() as handle:
        watched = [await handle.add_and_watch(spec) for spec in specs]
        await handle.remove_by_name("waits_for_cancel")
        for (task_id, waiter), spec in zip(watched, specs, strict=True):
            outcome = await waiter.wait()
            assert task_id not in dict(handle.list())  # it has left the registry
            code = "" if outcome.exit_code is None else f" exit_code={outcome.exit_code}"
            reason = f": {outcome.reason}" if outcome.reason else ""
            kind = outcome.kind.name
            print(f"{spec.name:<17} {kind:<9} attempts={outcome.attempts}{code}{reason}")
    print(f"the dashboard missed events ({drops.overflows > 0}), no outcome was lost")


if __name__ == "__main__":
    asyncio.run(main())
