"""The seed example of docs/spec/api.md section 1: a flaky task fails twice, then succeeds.

Run: python examples/seed.py — prints exactly the twelve lines of docs/spec/api.md section 1.
"""

import asyncio

import taskvisor as tv


class Printer:
    def on_event(self, ev: tv.Event) -> None:
        if ev.task is not None:
            print(f" {ev.kind.name} (task={ev.task})")


async def main() -> None:
    attempts = 0

    async def flaky(ctx: tv.TaskContext) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise tv.Fail("boom")

    spec = tv.TaskSpec.restartable(tv.TaskFn("flaky", flaky))
    await tv.Supervisor(tv.SupervisorConfig(), subscribers=[Printer()]).run([spec])


asyncio.run(main())
