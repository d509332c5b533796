"""Add and remove tasks while the supervisor runs: ids, names, list(), remove vs cancel.

``serve()`` hands you a handle. ``add`` returns a ``TaskId``; names are unique among live
tasks and reusable once a task is gone (under a new id). ``remove`` asks a task to stop and
returns at once; ``cancel`` also waits until it is gone. Exactly one caller claims a removal.

Run: ``python examples/dynamic_add_remove.py``.
"""

from __future__ import annotations

import asyncio

import taskvisor as tv


def worker(region: str) -> tv.TaskFn:
    async def sync_region(ctx: tv.TaskContext) -> None:
        await ctx.cancelled()  # stands in for a long-running loop that watches ctx
        print(f"  {ctx.name}: stopping cleanly")

    return tv.TaskFn(f"sync-{region}", sync_region)


def show(handle: tv.SupervisorHandle) -> None:
    print("  live:", ", ".join(name for _, name in handle.list()) or "(none)")


async def main() -> None:
    async with tv.Supervisor().serve() as handle:
        print("add three regions")
        ids = {r: await handle.add(tv.TaskSpec(worker(r))) for r in ("eu", "us", "ap")}
        show(handle)

        print("add sync-eu again")
        try:
            await handle.add(tv.TaskSpec(worker("eu")))
        except tv.TaskAlreadyExists as exc:
            print(f"  rejected: {exc}")

        print("cancel sync-us (waits until it is gone)")
        claimed = await handle.cancel(ids["us"])
        print(f"  claimed={claimed}, alive={handle.is_alive('sync-us')}")
        show(handle)

        print("two concurrent cancels of sync-ap: exactly one claims it")
        results = await asyncio.gather(handle.cancel(ids["ap"]), handle.cancel_by_name("sync-ap"))
        print(f"  claims: {sorted(results)}")
        show(handle)

        print("reuse the name sync-us")
        new_id = await handle.add(tv.TaskSpec(worker("us")))
        print(f"  new id is greater than the old one: {new_id > ids['us']}")
        show(handle)

        print("leave the block: graceful shutdown")
    print("done")


if __name__ == "__main__":
    asyncio.run(main())
