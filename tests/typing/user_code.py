"""Type-checked, never run: the public API as users write it (stamina's tests/typing habit).

``make typecheck`` runs ``mypy --strict`` on this file, so an annotation that makes ordinary user
code fail strict type checking is caught here.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import timedelta

import taskvisor as tv


class Printer:
    def on_event(self, ev: tv.Event) -> None:
        if ev.task is not None:
            print(f" {ev.kind.name} (task={ev.task})")


class AsyncCounter:
    name = "counter"
    queue_capacity = 64

    def __init__(self) -> None:
        self.seen = 0

    async def on_event(self, ev: tv.Event) -> None:
        self.seen += 1


class Poller:
    """A stateful task (the ``Task`` protocol)."""

    name = "poller"

    def __init__(self) -> None:
        self.polls = 0

    async def run(self, ctx: tv.TaskContext) -> None:
        self.polls += 1
        if ctx.is_cancelled:
            raise tv.Canceled("asked to stop")
        await ctx.run_until_cancelled(asyncio.sleep(0.1))


async def flaky(ctx: tv.TaskContext) -> None:
    if ctx.attempt <= 2:
        raise tv.Fail("boom", exit_code=75)


async def poll(ctx: tv.TaskContext, url: str) -> None:
    await ctx.run_until_cancelled(asyncio.sleep(1.0))


def factory(ctx: tv.TaskContext) -> asyncio.Future[None]:
    """Not ``async`` itself, but returns a fresh awaitable: a valid task function."""
    return asyncio.ensure_future(flaky(ctx))


async def main() -> None:
    backoff = tv.BackoffPolicy(first=0.2, max=timedelta(seconds=30), jitter=tv.JitterPolicy.FULL)
    specs = [
        tv.TaskSpec.restartable(tv.TaskFn("flaky", flaky), backoff=backoff, max_retries=5),
        tv.TaskSpec.periodic(Poller(), every=5.0, timeout=timedelta(seconds=2)),
        tv.TaskSpec.once(flaky, name="once", timeout=None),
        tv.TaskSpec(flaky, name="custom", restart=tv.RestartPolicy.always(1.0)),
        tv.TaskSpec.once(functools.partial(poll, url="http://example.invalid")),
        tv.TaskSpec.restartable(tv.TaskFn("factory", factory), name="f2", max_retries=None),
    ]
    subscribers: list[tv.Subscriber] = [Printer(), AsyncCounter(), tv.LogSubscriber()]
    sup = tv.Supervisor(
        tv.SupervisorConfig(grace=1.0, max_concurrent=8),
        subscribers=subscribers,
        controller=tv.ControllerConfig(max_slot_queue=10),
        defaults=tv.TaskDefaults(backoff=tv.BackoffPolicy.exponential(0.1)),
    )
    async with sup.serve() as h:
        tid: tv.TaskId = await h.add(specs[0])
        tid2, waiter = await h.add_and_watch(specs[1])
        outcome: tv.TaskOutcome = await waiter.wait()
        if outcome.kind is tv.OutcomeKind.REJECTED:
            assert outcome.rejection is tv.RejectionKind.ALREADY_EXISTS
        claimed: bool = await h.remove(tid)
        await h.cancel(tid2, timeout=5.0)
        names: list[str] = [name for _, name in h.list()]
        alive: bool = h.is_alive("flaky")
        cspec = tv.ControllerSpec(specs[2], admission=tv.AdmissionPolicy.REPLACE, slot="tenant")
        sid, swaiter = await h.submit_and_watch(cspec)
        for snap in h.controller_snapshot():
            print(snap.slot, snap.status.name, snap.owner, snap.queue_depth)
        print(claimed, names, alive, sid, (await swaiter.wait()).kind)
        stats: tuple[tv.SubscriberStats, ...] = h.subscriber_stats()
        print([(s.name, s.delivered, s.dropped, s.panicked, s.queued) for s in stats])
        try:
            await h.shutdown()
        except tv.GraceExceeded as exc:
            print(exc.grace, exc.stuck)
    stopped_by: str | None = sup.stopped_by
    quiet = tv.Supervisor(subscribers=None)  # the default: a LogSubscriber
    async with quiet.serve(signals=False):
        pass
    await tv.Supervisor(subscribers=[]).run(specs[:1], signals=False)
    print(stopped_by)


async def shaping() -> None:
    """Retry shaping as users write it (docs/spec/api.md section 8)."""

    async def call_api(ctx: tv.TaskContext) -> None:
        raise tv.Fail("429 Too Many Requests", retry_after=timedelta(seconds=30))

    config = tv.SupervisorConfig(seed=7, retry_budgets={"api": tv.RetryBudget(10, burst=20)})
    specs = [
        tv.TaskSpec.restartable(call_api, retry_budget="api", start_jitter=5.0),
        tv.TaskSpec.periodic(call_api, 60.0, jitter=0.1, name="poll"),
        tv.TaskSpec(call_api, name="p2", restart=tv.RestartPolicy.always(60.0, jitter=0.2)),
    ]

    class Why:
        def on_event(self, ev: tv.Event) -> None:
            d: tv.Decision | None = ev.decision
            if d is not None and d.source is tv.BackoffSource.BUDGET:
                wait: float = d.budget_wait
                print(d.retry, d.base, d.jitter, d.rule, wait)

    await tv.Supervisor(config, subscribers=[Why()]).run(specs)


if __name__ == "__main__":
    asyncio.run(main())
