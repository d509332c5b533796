"""Critical tasks: the one task a service cannot live without takes the supervisor down.

A service keeps a leader lease and serves requests. If the lease keeper ends for good
(``FAILED`` after its retries, or ``FATAL``), serving on without it would be wrong:
``TaskSpec(critical=True)`` makes its end shut the supervisor down gracefully (the other tasks
are asked to stop and do), and then ``run()`` (or leaving ``serve()``) raises
``tv.CriticalTaskFailed``, carrying the task's name and outcome. A critical task that
completes or is cancelled does not escalate. On virtual time: instant and deterministic.

Run: ``python examples/critical_task.py``.
"""

from __future__ import annotations

import asyncio

import taskvisor as tv
from taskvisor.testing import VirtualClock, seeded


async def lease_keeper(ctx: tv.TaskContext) -> None:
    await asyncio.sleep(30.0)  # renews the lease for a while, then the lock service is gone
    raise ConnectionError("lock service unreachable")


async def api(ctx: tv.TaskContext) -> None:
    await ctx.cancelled()
    print("  api: asked to stop, stopping cleanly")


class Quiet:
    async def on_event(self, ev: tv.Event) -> None:
        pass


async def main() -> None:
    specs = [
        tv.TaskSpec.restartable(
            tv.TaskFn("leader-lease", lease_keeper),
            max_retries=2,
            backoff=tv.BackoffPolicy.constant(1.0),
            critical=True,
        ),
        tv.TaskSpec(tv.TaskFn("api", api)),
    ]
    loop = asyncio.get_running_loop()
    try:
        await tv.Supervisor(seeded(1), subscribers=[Quiet()]).run(specs)
    except tv.CriticalTaskFailed as exc:
        print(f"{type(exc).__name__} after {loop.time():.0f}s: {exc}")
        print(f"  task {exc.name!r}: {exc.outcome.kind.name}, {exc.outcome.attempts} attempts")


if __name__ == "__main__":
    VirtualClock().run(main())
