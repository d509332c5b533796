"""Admission control through the runtime: ``submit``, slots, intake (docs/spec/api.md 6, I6).

Runs on asyncio and trio on virtual time (``VirtualClock``, trio's ``MockClock``): sleeps and grace
periods take no real time and nothing depends on the machine's load. The core decides every
admission; these tests check that the runtime carries the decisions out: who starts and in which
order, what each submitter's outcome is, and that the handle's reads (``controller_snapshot``,
``list``) follow the core's state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from runtime_support import EK, FAST, VIRTUAL_BACKENDS, Recorder, queue_held

import taskvisor as tv

pytestmark = pytest.mark.anyio


@pytest.fixture(params=VIRTUAL_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Virtual time on both backends (a fresh clock per test): see runtime_support."""
    backend: Callable[[], tuple[str, dict[str, Any]]] = request.param
    return backend()


OK = tv.OutcomeKind
RK = tv.RejectionKind
AP = tv.AdmissionPolicy
ST = tv.SlotStatus


def supervisor(
    rec: Recorder | None = None,
    controller: tv.ControllerConfig | None = None,
    **config: object,
) -> tv.Supervisor:
    return tv.Supervisor(
        tv.SupervisorConfig(**config),  # type: ignore[arg-type]
        subscribers=[] if rec is None else [rec],
        controller=tv.ControllerConfig() if controller is None else controller,
        defaults=FAST,
    )


class Gate:
    """Task bodies that note their start (by id) and run until released or cancelled."""

    def __init__(self) -> None:
        self.started: list[tv.TaskId] = []
        self.release = anyio.Event()

    async def body(self, ctx: tv.TaskContext) -> None:
        self.started.append(ctx.task_id)
        await ctx.run_until_cancelled(self.release.wait())

    def spec(
        self, name: str, *, slot: str | None = "s", admission: tv.AdmissionPolicy = AP.QUEUE
    ) -> tv.ControllerSpec:
        return tv.ControllerSpec(tv.TaskSpec.once(tv.TaskFn(name, self.body)), admission, slot)


async def waits(ctx: tv.TaskContext) -> None:
    await ctx.cancelled()


def rejected(waiter: tv.TaskWaiter) -> tv.RejectionKind | None:
    """The rejection of a submission the core turned down at once (its outcome is already set)."""
    outcome = waiter.outcome
    assert outcome is not None, "a rejection decided at submission is delivered with the reply"
    assert outcome.kind is OK.REJECTED
    return outcome.rejection


# -- configuration ------------------------------------------------------------------------------


async def test_every_submit_form_raises_controller_not_configured_without_a_controller() -> None:
    gate = Gate()
    async with tv.Supervisor().serve() as h:
        with pytest.raises(tv.ControllerNotConfigured):
            await h.submit(gate.spec("x"))
        with pytest.raises(tv.ControllerNotConfigured):
            await h.submit_and_watch(gate.spec("x"))
        with pytest.raises(tv.ControllerNotConfigured):
            await h.try_submit(gate.spec("x"))
        with pytest.raises(tv.ControllerNotConfigured):
            await h.try_submit_and_watch(gate.spec("x"))
        with pytest.raises(tv.ControllerNotConfigured):
            h.controller_snapshot()
        assert h.list() == []


async def test_submit_rejects_what_is_not_a_controller_spec() -> None:
    async with supervisor().serve() as h:
        with pytest.raises(tv.ConfigError) as info:
            await h.submit(tv.TaskSpec(waits))  # type: ignore[arg-type]
        assert info.value.field == "cspec"
        with pytest.raises(tv.ConfigError) as info:
            await h.submit_and_watch(object())  # type: ignore[arg-type]
        assert info.value.field == "cspec"
        assert h.controller_snapshot() == []


def test_supervisor_takes_a_controller_config_and_nothing_else() -> None:
    tv.Supervisor(controller=tv.ControllerConfig(queue_capacity=4, max_slot_queue=2))
    with pytest.raises(tv.ConfigError) as info:
        tv.Supervisor(controller={"queue_capacity": 4})  # type: ignore[arg-type]
    assert info.value.field == "Supervisor.controller"


# -- the three policies -------------------------------------------------------------------------


async def test_queued_submissions_drain_in_fifo_order_once_each_owner_is_gone() -> None:
    gate = Gate()
    async with supervisor().serve() as h:
        owner, first = await h.submit_and_watch(gate.spec("owner"))
        queued = [await h.submit_and_watch(gate.spec(f"q{i}")) for i in range(3)]
        assert h.controller_snapshot() == [tv.SlotSnapshot("s", ST.RUNNING, owner, 3)]
        assert h.list() == [(owner, "owner")]  # queued work is not in the registry
        gate.release.set()
        outcomes = [await w.wait() for _, w in [(owner, first), *queued]]
        assert [o.kind for o in outcomes] == [OK.COMPLETED] * 4
        assert gate.started == [owner, *(tid for tid, _ in queued)]
        assert h.controller_snapshot() == []


async def test_drop_if_running_starts_on_an_idle_slot_and_is_rejected_on_a_busy_one() -> None:
    gate = Gate()
    async with supervisor().serve() as h:
        tid, waiter = await h.submit_and_watch(gate.spec("a", admission=AP.DROP_IF_RUNNING))
        assert h.controller_snapshot() == [tv.SlotSnapshot("s", ST.RUNNING, tid, 0)]
        busy, dropped = await h.submit_and_watch(gate.spec("b", admission=AP.DROP_IF_RUNNING))
        assert rejected(dropped) is RK.SLOT_BUSY
        # submit (no waiter) does not raise for a rejection either: it returns the id.
        plain = await h.submit(gate.spec("c", admission=AP.DROP_IF_RUNNING))
        assert plain > busy > tid
        gate.release.set()
        assert (await waiter.wait()).kind is OK.COMPLETED
        assert gate.started == [tid]
        # Idle again: DROP_IF_RUNNING starts at once.
        again, waiter = await h.submit_and_watch(gate.spec("d", admission=AP.DROP_IF_RUNNING))
        assert (await waiter.wait()).kind is OK.COMPLETED
        assert gate.started == [tid, again]


async def test_fifty_replaces_into_one_slot_settle_to_the_last_one() -> None:
    all_submitted = anyio.Event()
    started: list[tv.TaskId] = []

    async def sync(ctx: tv.TaskContext) -> None:
        started.append(ctx.task_id)
        await ctx.run_until_cancelled(all_submitted.wait())

    spec = tv.ControllerSpec(tv.TaskSpec.once(tv.TaskFn("sync", sync)), AP.REPLACE, "tenant")
    async with supervisor().serve() as h:
        subs = [await h.submit_and_watch(spec) for _ in range(50)]
        all_submitted.set()
        outcomes = [await w.wait() for _, w in subs]
    ids = [tid for tid, _ in subs]
    kinds = [(o.kind, o.rejection) for o in outcomes]
    assert kinds[-1] == (OK.COMPLETED, None)
    assert kinds[0] == (OK.CANCELED, None)  # the first one started at once, then was replaced
    assert set(kinds[:-1]) <= {(OK.CANCELED, None), (OK.REJECTED, RK.SUPERSEDED_BY_REPLACE)}
    # Exactly the canceled ones and the last one ever started, in submission order.
    ran = [tid for tid, (kind, _) in zip(ids, kinds, strict=True) if kind is not OK.REJECTED]
    assert started == ran
    assert started[-1] == ids[-1]


async def test_a_full_slot_queue_rejects_queue_full() -> None:
    gate = Gate()
    async with supervisor(controller=tv.ControllerConfig(max_slot_queue=2)).serve() as h:
        owner, _ = await h.submit_and_watch(gate.spec("owner"))
        kept = [await h.submit_and_watch(gate.spec(f"q{i}")) for i in range(2)]
        late, waiter = await h.submit_and_watch(gate.spec("late"))
        assert rejected(waiter) is RK.QUEUE_FULL
        assert h.controller_snapshot() == [tv.SlotSnapshot("s", ST.RUNNING, owner, 2)]
        gate.release.set()
        assert [(await w.wait()).kind for _, w in kept] == [OK.COMPLETED] * 2
        assert late not in gate.started
        assert gate.started == [owner, *(tid for tid, _ in kept)]


# -- removal, names, shutdown -------------------------------------------------------------------


async def test_removing_a_queued_submission_rejects_it_and_it_never_starts() -> None:
    gate = Gate()
    async with supervisor().serve() as h:
        owner, first = await h.submit_and_watch(gate.spec("owner"))
        (q0, w0), (q1, w1), (_, w2), (q3, w3) = [
            await h.submit_and_watch(gate.spec(f"q{i}")) for i in range(4)
        ]
        assert await h.remove(q0) is True
        assert rejected(w0) is RK.REMOVED_FROM_QUEUE
        assert await h.remove(q0) is False  # the claim went to the first call
        # cancel() of a queued submission returns at once: it never entered the registry.
        with anyio.fail_after(1):
            assert await h.cancel(q1, timeout=0.5) is True
        assert rejected(w1) is RK.REMOVED_FROM_QUEUE
        assert await h.remove_by_name("q2") is True
        assert rejected(w2) is RK.REMOVED_FROM_QUEUE
        assert h.controller_snapshot() == [tv.SlotSnapshot("s", ST.RUNNING, owner, 1)]
        assert h.list() == [(owner, "owner")]
        gate.release.set()
        assert (await first.wait()).kind is OK.COMPLETED
        assert (await w3.wait()).kind is OK.COMPLETED
    assert gate.started == [owner, q3]


async def test_the_next_owner_reuses_the_task_name_once_the_previous_one_is_gone() -> None:
    gate = Gate()
    async with supervisor().serve() as h:
        first, w1 = await h.submit_and_watch(gate.spec("report", slot=None))
        second, w2 = await h.submit_and_watch(gate.spec("report", slot=None))
        assert h.controller_snapshot() == [tv.SlotSnapshot("report", ST.RUNNING, first, 1)]
        assert h.list() == [(first, "report")]
        assert await h.cancel(first) is True
        assert (await w1.wait()).kind is OK.CANCELED
        # The slot was freed only when `first` had fully left; `second` took it and the name.
        assert h.list() == [(second, "report")]
        assert h.controller_snapshot() == [tv.SlotSnapshot("report", ST.RUNNING, second, 0)]
        gate.release.set()
        assert (await w2.wait()).kind is OK.COMPLETED
    assert gate.started == [first, second]


async def test_a_submission_whose_name_a_live_task_holds_is_rejected_already_exists() -> None:
    gate = Gate()
    async with supervisor().serve() as h:
        added = await h.add(tv.TaskSpec(waits, name="x"))
        tid, waiter = await h.submit_and_watch(gate.spec("x", slot="other"))
        assert rejected(waiter) is RK.ALREADY_EXISTS
        assert h.list() == [(added, "x")]
        assert h.controller_snapshot() == []
    assert tid not in gate.started


async def test_shutdown_rejects_queued_work_and_none_of_it_starts() -> None:
    gate = Gate()
    async with supervisor().serve() as h:
        owner, first = await h.submit_and_watch(gate.spec("owner"))
        queued = [await h.submit_and_watch(gate.spec(f"q{i}")) for i in range(3)]
        other, second = await h.submit_and_watch(gate.spec("other", slot="t"))
    assert (await first.wait()).kind is OK.CANCELED
    assert (await second.wait()).kind is OK.CANCELED
    assert [rejected(w) for _, w in queued] == [RK.CONTROLLER_SHUTTING_DOWN] * 3
    assert sorted(gate.started) == [owner, other]
    assert h.controller_snapshot() == []


async def test_submit_during_shutdown_is_rejected_and_after_it_raises_shutting_down() -> None:
    stopping = anyio.Event()
    release = anyio.Event()

    async def slow_to_stop(ctx: tv.TaskContext) -> None:
        await ctx.cancelled()
        stopping.set()
        await release.wait()  # holds the shutdown open, within grace

    gate = Gate()
    async with supervisor(grace=30.0).serve() as h:
        await h.submit(tv.ControllerSpec(tv.TaskSpec(slow_to_stop)))
        async with anyio.create_task_group() as tg:
            tg.start_soon(h.shutdown)
            with anyio.fail_after(5):
                await stopping.wait()
            # The core still runs: it decides, and the outcome says so.
            late, waiter = await h.submit_and_watch(gate.spec("late"))
            assert rejected(waiter) is RK.CONTROLLER_SHUTTING_DOWN
            release.set()
        # The supervisor has stopped: nothing is left to decide, like add().
        with pytest.raises(tv.ShuttingDown):
            await h.submit(gate.spec("later"))
        with pytest.raises(tv.ShuttingDown):
            await h.submit_and_watch(gate.spec("later"))
        assert h.controller_snapshot() == []
    assert late not in gate.started


# -- scale, intake, events, snapshot ------------------------------------------------------------


async def test_128_distinct_slots_all_run_at_once() -> None:
    n = 128
    running = 0
    all_running = anyio.Event()

    async def job(ctx: tv.TaskContext) -> None:
        nonlocal running
        running += 1
        if running == n:
            all_running.set()
        await ctx.cancelled()

    async with supervisor().serve() as h:
        ids = [
            await h.submit(tv.ControllerSpec(tv.TaskSpec(tv.TaskFn(f"job{i:03}", job))))
            for i in range(n)
        ]
        with anyio.fail_after(10):
            await all_running.wait()
        snap = h.controller_snapshot()
        assert snap == [tv.SlotSnapshot(f"job{i:03}", ST.RUNNING, ids[i], 0) for i in range(n)]
        assert len(h.list()) == n
    assert running == n


async def test_try_submit_raises_command_queue_full_when_the_intake_is_full() -> None:
    gate = Gate()
    results: list[str] = []

    async with supervisor(controller=tv.ControllerConfig(queue_capacity=1)).serve() as h:

        async def one(i: int) -> None:
            try:
                await h.try_submit(gate.spec(f"j{i}", slot=f"j{i}"))
                results.append("ok")
            except tv.CommandQueueFull as exc:
                results.append("full" if "intake" in str(exc) else repr(exc))

        async def add() -> None:
            await h.try_add(tv.TaskSpec(waits, name="plain"))
            results.append("add ok")

        await anyio.wait_all_tasks_blocked()  # both actors are idle, waiting to receive
        with queue_held(h, intake=True):  # submissions queue up instead of stepping at once
            async with anyio.create_task_group() as tg:
                # All five run before either actor gets a turn: one submission is handed to
                # the intake's waiting actor, one fills its buffer (capacity 1), the other two
                # find it full. The command queue is separate (and empty): the add gets in.
                for i in range(4):
                    tg.start_soon(one, i)
                tg.start_soon(add)
            assert sorted(results) == ["add ok", "full", "full", "ok", "ok"]
            assert len(h.controller_snapshot()) == 2
            # The waiting form waits for room instead: all of them get in.
            async with anyio.create_task_group() as tg:
                for i in range(4, 10):
                    tg.start_soon(h.submit, gate.spec(f"j{i}", slot=f"j{i}"))
            assert len(h.controller_snapshot()) == 8
        # Nothing queued: submissions step the core at once and never find the intake full.
        async with anyio.create_task_group() as tg:
            for i in range(10, 14):
                tg.start_soon(h.try_submit, gate.spec(f"j{i}", slot=f"j{i}"))
        assert len(h.controller_snapshot()) == 12
        gate.release.set()


async def test_controller_events_reach_a_subscriber() -> None:
    rec = Recorder()
    gate = Gate()
    async with supervisor(rec).serve() as h:
        owner, first = await h.submit_and_watch(gate.spec("owner"))
        dropped, _ = await h.submit_and_watch(gate.spec("drop", admission=AP.DROP_IF_RUNNING))
        gate.release.set()
        await first.wait()
    submitted = [e for e in rec.events if e.kind is EK.CONTROLLER_SUBMITTED]
    assert [(e.task_id, e.task, e.reason) for e in submitted] == [
        (owner, "owner", "slot 's', QUEUE"),
        (dropped, "drop", "slot 's', DROP_IF_RUNNING"),
    ]
    rejections = [e for e in rec.events if e.kind is EK.CONTROLLER_REJECTED]
    assert [(e.task_id, e.outcome, e.rejection) for e in rejections] == [
        (dropped, OK.REJECTED, RK.SLOT_BUSY)
    ]
    moves = [e for e in rec.events if e.kind is EK.CONTROLLER_SLOT_TRANSITION]
    assert [(e.task, e.task_id, e.reason) for e in moves] == [
        ("s", None, "IDLE -> ADMITTING"),
        ("s", owner, "ADMITTING -> RUNNING"),
        ("s", None, "RUNNING -> IDLE"),
    ]
    # The owner's own sequence is a plain task's (docs/spec/api.md section 5), after its submission.
    assert [k for k in rec.kinds(owner) if k is not EK.CONTROLLER_SLOT_TRANSITION] == [
        EK.CONTROLLER_SUBMITTED,
        EK.TASK_ADD_REQUESTED,
        EK.TASK_ADDED,
        EK.TASK_STARTING,
        EK.TASK_STOPPED,
        EK.ACTOR_EXHAUSTED,
        EK.TASK_REMOVED,
    ]
    assert rec.kinds(dropped) == [EK.CONTROLLER_SUBMITTED, EK.CONTROLLER_REJECTED]
    rec.check()


async def test_controller_snapshot_follows_the_slots_while_busy() -> None:
    gate = Gate()
    async with supervisor().serve() as h:
        owner, first = await h.submit_and_watch(gate.spec("owner"))
        _, w0 = await h.submit_and_watch(gate.spec("q0"))
        q1, w1 = await h.submit_and_watch(gate.spec("q1"))
        other, _ = await h.submit_and_watch(gate.spec("b-owner", slot="b"))
        assert h.controller_snapshot() == [
            tv.SlotSnapshot("b", ST.RUNNING, other, 0),
            tv.SlotSnapshot("s", ST.RUNNING, owner, 2),
        ]
        # REPLACE: the owner is asked to stop (the slot waits for it), the newcomer takes the
        # head of the queue and the old head is superseded; the depth stays 2.
        new, _ = await h.submit_and_watch(gate.spec("new", admission=AP.REPLACE))
        assert rejected(w0) is RK.SUPERSEDED_BY_REPLACE
        snap = h.controller_snapshot()
        assert snap[1] in (
            tv.SlotSnapshot("s", ST.TERMINATING, owner, 2),  # the owner is still stopping
            tv.SlotSnapshot("s", ST.RUNNING, new, 1),  # it had already gone
        )
        assert (await first.wait()).kind is OK.CANCELED
        assert h.controller_snapshot()[1] == tv.SlotSnapshot("s", ST.RUNNING, new, 1)
        gate.release.set()
        assert (await w1.wait()).kind is OK.COMPLETED
        assert h.controller_snapshot() == []
    assert gate.started == [owner, other, new, q1]
