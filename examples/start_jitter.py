"""Dispersion: a deploy starts five pollers at once; jitter keeps them from polling in step.

Without jitter, five pollers started by one deploy hit their backend in the same instant, and
again every 60 s, for ever. ``TaskSpec(start_jitter=10)`` starts each one after a uniform
delay in [0, 10] s (``BACKOFF_SCHEDULED`` with source ``START``), and
``RestartPolicy.always(60, jitter=0.1)`` (here through ``TaskSpec.periodic(..., jitter=0.1)``)
makes each pause uniform in [54, 66] s, so the pollers drift apart instead of staying in step.
With a seed each poller draws from its own random stream: adding a sixth poller would not
change these five's times. Runs on virtual time (an instant).

Run: ``python examples/start_jitter.py``.
"""

from __future__ import annotations

import anyio

import taskvisor as tv
from taskvisor.testing import VirtualClock


async def polls(start_jitter: float, jitter: float) -> dict[str, list[float]]:
    """Five pollers for four minutes; the times of each one's polls."""
    times: dict[str, list[float]] = {}
    t0 = anyio.current_time()

    async def poll(ctx: tv.TaskContext) -> None:
        times.setdefault(ctx.name, []).append(anyio.current_time() - t0)

    config = tv.SupervisorConfig(seed=42)
    async with tv.Supervisor(config, subscribers=[]).serve() as h:
        for i in range(1, 6):
            spec = tv.TaskSpec.periodic(
                poll, 60.0, jitter=jitter, name=f"poller-{i}", start_jitter=start_jitter
            )
            await h.add(spec)
        await anyio.sleep(240.0)
    return times


def show(title: str, times: dict[str, list[float]]) -> None:
    print(title)
    for name, at in sorted(times.items()):
        print(f"  {name}: " + " ".join(f"{t:6.1f}" for t in at))
    rounds = list(zip(*times.values(), strict=False))  # the k-th poll of every poller
    spreads = ", ".join(f"{max(r) - min(r):.1f}s" for r in rounds)
    print(f"  spread of each round of polls: {spreads}")


async def main() -> None:
    show("in step (no jitter):", await polls(0.0, 0.0))
    show("dispersed (start_jitter=10, jitter=0.1):", await polls(10.0, 0.1))


VirtualClock().run(main())
