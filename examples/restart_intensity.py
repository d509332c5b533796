"""Restart intensity (Erlang/OTP's ``intensity``/``period``), per task and per supervisor.

A worker that crashes a few seconds after every start never gets two failures far apart, so a
retry limit would end it; but a worker that crashes every few seconds *with successes in
between* never has a long streak, and a retry limit never notices it. Intensity counts the
restarts after failures within a sliding window, whatever happened in between:

- ``TaskSpec(intensity=tv.Intensity(3, 60))``: a fourth restart within 60 s is refused; the
  task ends ``FAILED`` ("restart intensity") and the others keep running.
- ``SupervisorConfig(intensity=tv.Intensity(5, 60))``: counted over all tasks. When a bad
  deploy makes every worker crash, the supervisor shuts down gracefully and ``run()`` raises
  ``tv.RestartIntensityExceeded``, for the process manager above to decide (OTP escalates to
  the parent supervisor the same way).

Periodic restarts after a success never count. On virtual time: instant and deterministic.

Run: ``python examples/restart_intensity.py``.
"""

from __future__ import annotations

import asyncio

import taskvisor as tv
from taskvisor.testing import VirtualClock, seeded


async def flapping_worker(ctx: tv.TaskContext) -> None:
    """Every other job crashes it: never two failures in a row, a crash every 10 s."""
    await asyncio.sleep(5.0)
    if ctx.attempt % 2:
        raise RuntimeError("segfault in the image decoder")


async def crashing_worker(ctx: tv.TaskContext) -> None:
    await asyncio.sleep(2.0)
    raise RuntimeError("bad deploy: missing column 'tenant_id'")


async def api(ctx: tv.TaskContext) -> None:
    await ctx.cancelled()  # serves until it is asked to stop


class Quiet:
    async def on_event(self, ev: tv.Event) -> None:
        pass


async def per_task() -> None:
    spec = tv.TaskSpec(
        tv.TaskFn("thumbnailer", flapping_worker),
        restart=tv.RestartPolicy.always(),  # next job at once after a success
        max_retries=3,  # never reached: a success always comes between two crashes
        intensity=tv.Intensity(3, 60.0),
    )
    async with tv.Supervisor(seeded(1), subscribers=[Quiet()]).serve() as handle:
        await handle.add(tv.TaskSpec(tv.TaskFn("api", api)))
        _, waiter = await handle.add_and_watch(spec)
        outcome = await waiter.wait()
        print(f"per task: thumbnailer {outcome.kind.name} after {outcome.attempts} attempts")
        print(f"  {outcome.reason}")
        print(f"  still running: {[name for _, name in handle.list()]}")


async def per_supervisor() -> None:
    config = seeded(1, intensity=tv.Intensity(5, 60.0))
    specs = [tv.TaskSpec(tv.TaskFn("api", api))]
    specs += [tv.TaskSpec.restartable(tv.TaskFn(f"worker-{i}", crashing_worker)) for i in (1, 2, 3)]
    supervisor = tv.Supervisor(config, subscribers=[Quiet()])
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        await supervisor.run(specs)
    except tv.RestartIntensityExceeded as exc:
        print(f"per supervisor: {type(exc).__name__}: {exc}")
        print(f"  raised {loop.time() - start:.1f}s after the start, once api was stopped too")


async def main() -> None:
    await per_task()
    await per_supervisor()


if __name__ == "__main__":
    VirtualClock().run(main())
