"""Giving up after a while: ``give_up_after`` bounds how long a failure streak may last.

A retry limit counts attempts, but how long they take depends on the backoff. When what
matters is time ("if the warehouse is not back within 10 minutes, stop and page someone"),
``TaskSpec(give_up_after=600)``: a failure whose streak began more than 600 s before is not
retried, and the task ends ``FAILED`` with "gave up after 600s". A dependency that comes back
in time is reached as usual. The streak begins when its first failing attempt started; a
success (or a healthy run, ``reset_after``) ends it. On virtual time: instant.

Run: ``python examples/give_up.py``.
"""

from __future__ import annotations

import asyncio

import taskvisor as tv
from taskvisor.testing import VirtualClock, seeded


def export_to(region: str, back_at: float | None) -> tv.TaskFn:
    """A nightly export to a warehouse that is back at ``back_at`` seconds (None: never)."""

    async def export(ctx: tv.TaskContext) -> None:
        await asyncio.sleep(0.5)
        now = asyncio.get_running_loop().time()
        if back_at is None or now < back_at:
            raise ConnectionRefusedError("warehouse refused the connection")

    return tv.TaskFn(f"export-{region}", export)


class Quiet:
    async def on_event(self, ev: tv.Event) -> None:
        pass


async def main() -> None:
    specs = [
        tv.TaskSpec.restartable(export_to("eu", back_at=240.0), give_up_after=600.0),
        tv.TaskSpec.restartable(export_to("us", back_at=None), give_up_after=600.0),
    ]
    loop = asyncio.get_running_loop()
    async with tv.Supervisor(seeded(1), subscribers=[Quiet()]).serve() as handle:
        watched = [(spec.name, (await handle.add_and_watch(spec))[1]) for spec in specs]
        for name, waiter in watched:  # export-eu ends first
            outcome = await waiter.wait()
            print(f"{name}: {outcome.kind.name} at {loop.time():.0f}s, {outcome.attempts} attempts")
            print(f"  {outcome.reason or 'exported'}")


if __name__ == "__main__":
    VirtualClock().run(main())
