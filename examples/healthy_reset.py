"""Healthy-run reset: a connection that drops once a day is not retired by ``max_retries``.

A connection keeper stays connected for a day, then the peer drops the connection and it
reconnects. ``max_retries=3`` limits failures *in a row*. With the default
``reset_after=300``, an attempt that ran at least 5 minutes before it failed starts a new
streak: every daily drop is retry 0 again, with the shortest pause. With ``reset_after=None``
(only a return ends a streak) the drops pile up into one streak, the pauses grow, and the
fourth drop retires the task for good.

Thirty days run on virtual time (``taskvisor.testing.VirtualClock``) in well under a second.

Run: ``python examples/healthy_reset.py``.
"""

from __future__ import annotations

import asyncio

import taskvisor as tv
from taskvisor.testing import VirtualClock, seeded

DAY = 86_400.0


async def keep_connection(ctx: tv.TaskContext) -> None:
    await asyncio.sleep(DAY)  # connected and serving; after a day the peer drops it
    raise ConnectionError("connection reset by peer")


class Pauses:
    """Records the backoff pauses and when the task left (an async subscriber: delivered on
    the loop, which suits virtual time)."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.removed_at = 0.0

    async def on_event(self, ev: tv.Event) -> None:
        if ev.kind is tv.EventKind.BACKOFF_SCHEDULED and ev.delay is not None:
            self.delays.append(ev.delay)
        elif ev.kind is tv.EventKind.TASK_REMOVED:
            self.removed_at = ev.at


async def thirty_days(reset_after: float | None) -> None:
    pauses = Pauses()
    spec = tv.TaskSpec.restartable(
        tv.TaskFn("conn", keep_connection), max_retries=3, reset_after=reset_after
    )
    loop = asyncio.get_running_loop()
    start = loop.time()  # both runs share one virtual clock
    async with tv.Supervisor(seeded(1), subscribers=[pauses]).serve() as handle:
        _, waiter = await handle.add_and_watch(spec)
        await asyncio.sleep(30 * DAY)
        outcome = waiter.outcome  # None while the task is still supervised
        days = (loop.time() - start) / DAY
    pause_list = ", ".join(f"{d:.2f}s" for d in pauses.delays[:4])
    label = f"reset_after={reset_after}"
    if outcome is None:
        print(f"{label}: still connected after {days:.0f} days, {len(pauses.delays)} drops")
        print(f"  pauses stay at retry 0: {pause_list}, ...; longest {max(pauses.delays):.2f}s")
    else:
        when = (pauses.removed_at - start) / DAY
        print(f"{label}: {outcome.kind.name} after {outcome.attempts} attempts, on day {when:.0f}")
        print(f"  pauses grew: {pause_list}")
        print(f"  {outcome.reason}")


async def main() -> None:
    await thirty_days(300.0)  # the default
    await thirty_days(None)


if __name__ == "__main__":
    VirtualClock().run(main())
