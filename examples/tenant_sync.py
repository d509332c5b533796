"""Admission control: one slot per tenant, REPLACE, the latest revision wins.

Each tenant's configuration is synced by one task at a time (its slot). When a newer revision
arrives, ``AdmissionPolicy.REPLACE`` asks the running sync to stop and puts the newcomer at the
head of the slot's queue; a revision still waiting there is superseded. Tenants run
concurrently: their slots are independent. What happened to each revision is read from its
outcome (``submit_and_watch`` then ``waiter.wait()``), never from events.

A sync that is cancelled mid-way rolls back its partial write before it gives up, so every
revision that arrives meanwhile finds its tenant's slot still busy.

Run: ``python examples/tenant_sync.py``.
"""

from __future__ import annotations

import asyncio

import taskvisor as tv

REVISIONS = {"acme": 4, "globex": 3, "initech": 2}  # how many revisions each tenant publishes
SYNC = 0.3  # seconds a full sync takes
ROLLBACK = 0.1  # seconds a cancelled sync takes to undo its partial write


class Board:
    """What the syncs did: who started, who is running now, what got applied."""

    def __init__(self) -> None:
        self.first_started = {tenant: asyncio.Event() for tenant in REVISIONS}
        self.running: dict[str, int] = dict.fromkeys(REVISIONS, 0)
        self.peak = 0
        self.peak_per_tenant = 0
        self.applied: dict[str, int] = {}

    def sync(self, tenant: str, revision: int) -> tv.ControllerSpec:
        async def sync(ctx: tv.TaskContext) -> None:
            self.running[tenant] += 1
            self.peak = max(self.peak, sum(self.running.values()))
            self.peak_per_tenant = max(self.peak_per_tenant, self.running[tenant])
            self.first_started[tenant].set()
            try:
                await ctx.run_until_cancelled(asyncio.sleep(SYNC))  # the sync itself
                self.applied[tenant] = revision
            except tv.Canceled:
                await asyncio.sleep(ROLLBACK)  # undo the partial write, then give up
                raise
            finally:
                self.running[tenant] -= 1

        task = tv.TaskSpec.once(tv.TaskFn(f"sync-{tenant}", sync))
        return tv.ControllerSpec(task, tv.AdmissionPolicy.REPLACE, slot=tenant)


async def main() -> None:
    board = Board()
    watched: dict[str, list[tuple[int, tv.TaskWaiter]]] = {tenant: [] for tenant in REVISIONS}
    async with tv.Supervisor(controller=tv.ControllerConfig()).serve() as handle:
        # Revision 1 of every tenant: the slots are idle, so all three start at once.
        for tenant in REVISIONS:
            _, waiter = await handle.submit_and_watch(board.sync(tenant, 1))
            watched[tenant].append((1, waiter))
        for started in board.first_started.values():
            await started.wait()
        print("revision 1 of every tenant is syncing")

        # The newer revisions arrive in a burst while those syncs run.
        for tenant, count in REVISIONS.items():
            for revision in range(2, count + 1):
                _, waiter = await handle.submit_and_watch(board.sync(tenant, revision))
                watched[tenant].append((revision, waiter))
        print("slots after the burst:")
        for slot in handle.controller_snapshot():
            print(f"  {slot.slot:<8} {slot.status.name:<11} queued={slot.queue_depth}")

        # Decide from the outcomes (reliable), once every revision has ended.
        for tenant, revisions in watched.items():
            outcomes = [(revision, await waiter.wait()) for revision, waiter in revisions]
            won = [r for r, o in outcomes if o.kind is tv.OutcomeKind.COMPLETED]
            superseded = sum(
                o.rejection is tv.RejectionKind.SUPERSEDED_BY_REPLACE for _, o in outcomes
            )
            canceled = sum(o.kind is tv.OutcomeKind.CANCELED for _, o in outcomes)
            print(
                f"{tenant:<8} revision {won[0]} won; {superseded} superseded, {canceled} canceled"
            )
    print(f"applied: {dict(sorted(board.applied.items()))}")
    print(f"peak syncs at once: {board.peak}, per tenant: {board.peak_per_tenant}")


if __name__ == "__main__":
    asyncio.run(main())
