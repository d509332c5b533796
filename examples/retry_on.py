"""Which failures retry: ``retry_on`` keeps a bad configuration from restarting forever.

By default every exception is retried (``retry_on=(Exception,)``). A ``ValueError`` from a
malformed setting will fail the same way on every attempt, so retrying it only hides it.
``TaskSpec(retry_on=(ConnectionError, TimeoutError))`` retries those (the transient ones) and
ends the task ``FATAL`` on anything else, at once, with a reason that names the type.
``tv.Fail`` and a per-attempt timeout always retry; ``tv.Fatal`` never does. On virtual time.

Run: ``python examples/retry_on.py``.
"""

from __future__ import annotations

import asyncio

import taskvisor as tv
from taskvisor.testing import VirtualClock, seeded

TRANSIENT = (ConnectionError, TimeoutError)


async def sync_orders(ctx: tv.TaskContext) -> None:
    await asyncio.sleep(1.0)
    if ctx.attempt <= 2:
        raise ConnectionError("upstream closed the connection")  # transient: retried


async def sync_invoices(ctx: tv.TaskContext) -> None:
    dsn = "postgres://billing@db:5432/billing?sslmode=verify-fool"
    raise ValueError(f"invalid sslmode in {dsn!r}")  # a bad setting: retrying cannot help


class Quiet:
    async def on_event(self, ev: tv.Event) -> None:
        pass


async def main() -> None:
    specs = [
        tv.TaskSpec.restartable(tv.TaskFn("orders", sync_orders), retry_on=TRANSIENT),
        tv.TaskSpec.restartable(tv.TaskFn("invoices", sync_invoices), retry_on=TRANSIENT),
    ]
    outcomes = await tv.Supervisor(seeded(1), subscribers=[Quiet()]).run(specs)
    for name, outcome in outcomes.items():
        print(f"{name}: {outcome.kind.name} after {outcome.attempts} attempt(s)")
        if outcome.reason:
            print(f"  {outcome.reason}")


if __name__ == "__main__":
    VirtualClock().run(main())
