"""The runtime decides nothing: a real supervisor and the core alone give the same trace (rule 5).

Each scenario is a script: commands at fixed virtual times (add, remove, submit, shutdown) and,
per task, how each attempt behaves (succeed, ``Fail``, ``Fatal``, ``Canceled``, hang until
cancelled, ignore cooperative cancellation, ignore even the backend's cancellation). It runs
twice:

- through the real runtime (``Supervisor.serve`` with scripted task bodies) on virtual time:
  trio with ``MockClock(autojump_threshold=0)``, and asyncio with ``taskvisor.testing``'s
  ``VirtualClock``;
- through the core alone: a synchronous driver that feeds ``fsm.step`` the same inputs at the
  same virtual times (the attempt ends the scripted bodies would produce, the core's deadlines
  as ``TICK``), as the simulator does.

Both use the same seed, so jitter draws match. The traces must be equal, event for event:
kind, task name, attempt, delay, outcome, rejection, and the time (to the microsecond; ids are
left out, as the runtime's come from a process-wide counter). No two inputs of a script fall
on the same instant: the order of tasks woken together is the event loop's business (trio even
shuffles it), and with jitter the order of failures decides which draw each one gets.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import random
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import attrs
import pytest
from runtime_support import Recorder

import taskvisor as tv
from taskvisor import fsm
from taskvisor.fsm import NS_PER_S, EndKind, TaskId
from taskvisor.testing import VirtualClock

J = tv.JitterPolicy
AP = tv.AdmissionPolicy
INF = float("inf")


@attrs.frozen
class B:
    """How one attempt behaves.

    Attributes:
        end: how it ends by itself after ``run`` seconds: "ok", "fail", "fatal", "canceled".
        run: seconds until it ends by itself (``INF``: hangs until cancelled).
        on_cancel: seconds of cleanup after a cooperative cancellation, then it returns
            (None: it ignores cooperative cancellation).
        on_force: seconds of (shielded) cleanup after the backend's cancellation, then it lets
            the cancellation propagate.
        stubborn: it ignores even the backend's cancellation (it is abandoned).
    """

    end: str = "ok"
    run: float = 0.01
    on_cancel: float | None = 0.0
    on_force: float = 0.0
    stubborn: bool = False


def fails(n: int, run: float = 0.01, then: B | None = None) -> list[B]:
    return [B("fail", run)] * n + ([then] if then is not None else [])


HANG = B(run=INF, on_cancel=0.002)


@attrs.frozen
class Cmd:
    at: float
    op: str  # "add", "remove", "submit", "shutdown"
    name: str = ""
    spec: tv.TaskSpec | None = None
    cspec: tv.ControllerSpec | None = None


@attrs.frozen
class Scenario:
    commands: tuple[Cmd, ...]
    behaviour: dict[str, list[B]]
    seed: int = 7
    grace: float = 1.0
    force_wait: float = 0.25
    max_concurrent: int | None = None
    controller: tv.ControllerConfig | None = None


def behaviour_of(sc: Scenario, name: str, attempt: int) -> B:
    script = sc.behaviour[name]
    return script[min(attempt, len(script)) - 1]  # the last behaviour repeats


# -- the scenarios --------------------------------------------------------------------------


#: The scenario whose script the task bodies follow (attempts run in a copy of the context
#: where ``serve`` was entered, so each run sees its own).
SCRIPT: contextvars.ContextVar[Scenario] = contextvars.ContextVar("SCRIPT")


async def _body(ctx: tv.TaskContext) -> None:
    """Every task's body: does what the current scenario scripts for this attempt."""
    b = behaviour_of(SCRIPT.get(), ctx.name, ctx.attempt)
    cancelled = anyio.get_cancelled_exc_class()
    if b.stubborn:  # survives everything: asyncio's cancel is edge-triggered, trio's shielded
        until = anyio.current_time() + b.run
        while (left := until - anyio.current_time()) > 0:
            with contextlib.suppress(cancelled), anyio.CancelScope(shield=True):
                await anyio.sleep(left)
        return
    try:
        if b.on_cancel is None:
            await anyio.sleep(b.run)
        else:
            try:
                await ctx.run_until_cancelled(anyio.sleep(b.run))
            except tv.Canceled:
                await anyio.sleep(b.on_cancel)
                return  # stopped cooperatively
    except cancelled:
        with anyio.CancelScope(shield=True):
            await anyio.sleep(b.on_force)
        raise
    if b.end == "fail":
        raise tv.Fail(f"{ctx.name} attempt {ctx.attempt}")
    if b.end == "fatal":
        raise tv.Fatal(f"{ctx.name} is done for")
    if b.end == "canceled":
        raise tv.Canceled(f"{ctx.name} gave up")


def fn(name: str) -> tv.TaskFn:
    return tv.TaskFn(name, _body)


def add(at: float, spec: tv.TaskSpec) -> Cmd:
    return Cmd(at, "add", spec.name, spec=spec)


def scenario_seed_example() -> Scenario:
    # docs/spec/api.md section 1: fails twice, then succeeds, under the default (EQUAL-jitter)
    # backoff.
    spec = tv.TaskSpec.restartable(fn("flaky"))
    return Scenario(
        (add(0.0, spec), Cmd(5.0, "shutdown")),
        {"flaky": fails(2, then=B("ok"))},
    )


def scenario_retries_exhausted_with_jitter() -> Scenario:
    full = tv.BackoffPolicy(first=0.05, max=1.0, jitter=J.FULL)
    decorrelated = tv.BackoffPolicy(first=0.03, max=0.5, jitter=J.DECORRELATED, floor=0.04)
    equal = tv.BackoffPolicy(first=0.02, max=0.3, factor=3.0, jitter=J.EQUAL)
    return Scenario(
        (
            add(0.0, tv.TaskSpec.restartable(fn("a"), max_retries=3, backoff=full)),
            add(0.0051, tv.TaskSpec.restartable(fn("b"), max_retries=4, backoff=decorrelated)),
            add(0.0093, tv.TaskSpec.restartable(fn("c"), max_retries=2, backoff=equal)),
            Cmd(10.0, "shutdown"),
        ),
        {"a": fails(1, 0.0131), "b": fails(1, 0.0177), "c": fails(1, 0.0219)},
        seed=11,
    )


def scenario_periodic() -> Scenario:
    spec = tv.TaskSpec.periodic(fn("tick"), 0.5, backoff=tv.BackoffPolicy.constant(0.2))
    script = [B("ok", 0.1), B("ok", 0.1), B("fail", 0.05), B("ok", 0.1), B("fatal", 0.07)]
    return Scenario((add(0.0, spec), Cmd(10.0, "shutdown")), {"tick": script})


def scenario_removal_of_a_running_task() -> Scenario:
    return Scenario(
        (
            add(0.0, tv.TaskSpec.restartable(fn("worker"))),
            add(0.01, tv.TaskSpec(fn("sleeper"), backoff=tv.BackoffPolicy.constant(30))),
            add(0.025, tv.TaskSpec.once(fn("quitter"))),
            Cmd(1.0, "remove", "worker"),
            Cmd(1.5, "remove", "sleeper"),  # in its 30 s backoff: gone at once
            Cmd(2.0, "remove", "quitter"),  # raises Canceled when asked
            Cmd(3.0, "remove", "worker"),  # already gone: nothing happens
            Cmd(5.0, "shutdown"),
        ),
        {
            "worker": [HANG],
            "sleeper": fails(1),
            "quitter": [B("canceled", run=0.2, on_cancel=None), B(run=INF, on_cancel=0.003)],
        },
    )


def scenario_stubborn_task_forced_after_grace() -> Scenario:
    return Scenario(
        (
            add(0.0, tv.TaskSpec.restartable(fn("deaf"))),
            add(0.01, tv.TaskSpec.restartable(fn("rock"))),
            add(0.02, tv.TaskSpec.restartable(fn("slowpoke"))),
            Cmd(0.5, "remove", "deaf"),
            Cmd(0.6, "remove", "rock"),
            Cmd(0.7, "remove", "slowpoke"),
            Cmd(8.0, "shutdown"),
        ),
        {
            "deaf": [B(run=INF, on_cancel=None, on_force=0.003)],
            "rock": [B(run=5.0, stubborn=True)],  # abandoned force_wait after the force
            "slowpoke": [B(run=INF, on_cancel=0.4)],  # cooperative, but slow to clean up
        },
        grace=1.0,
        force_wait=0.25,
    )


def scenario_timeout() -> Scenario:
    backoff = tv.BackoffPolicy.constant(0.1)
    return Scenario(
        (
            add(0.0, tv.TaskSpec.once(fn("slow"), timeout=0.5)),
            add(0.01, tv.TaskSpec.restartable(fn("retry"), timeout=0.3, backoff=backoff)),
            add(0.02, tv.TaskSpec.restartable(fn("late"), timeout=0.2, max_retries=1)),
            Cmd(5.0, "shutdown"),
        ),
        {
            "slow": [B(run=INF, on_force=0.004)],
            "retry": [B(run=INF), B(run=INF), B("ok", 0.25)],  # third attempt beats it
            "late": [B(run=INF, on_force=0.011)],
        },
    )


def scenario_max_concurrent_queue() -> Scenario:
    runs = {"w1": 0.31, "w2": 0.52, "w3": 0.23, "w4": 0.44, "w5": 0.15, "w6": 0.37}
    commands = [add(0.001 * i, tv.TaskSpec.once(fn(name))) for i, name in enumerate(runs)]
    return Scenario(
        (*commands, Cmd(0.6, "remove", "w6"), Cmd(5.0, "shutdown")),  # w6 removed waiting
        {name: [B("ok", run)] for name, run in runs.items()},
        max_concurrent=2,
    )


def scenario_slot_replace() -> Scenario:
    def sub(at: float, name: str, policy: tv.AdmissionPolicy) -> Cmd:
        cspec = tv.ControllerSpec(tv.TaskSpec.once(fn(name)), policy, slot="job")
        return Cmd(at, "submit", name, cspec=cspec)

    return Scenario(
        (
            sub(0.0, "first", AP.QUEUE),
            sub(0.1, "second", AP.QUEUE),
            sub(0.15, "third", AP.QUEUE),
            sub(0.2, "newest", AP.REPLACE),  # cancels first, supersedes second
            sub(0.3, "dropped", AP.DROP_IF_RUNNING),
            sub(0.4, "fourth", AP.QUEUE),
            Cmd(5.0, "shutdown"),
        ),
        {
            "first": [B(run=INF, on_cancel=0.004)],
            "second": [B("ok", 0.1)],
            "third": [B("ok", 0.12)],
            "newest": [B("ok", 0.33)],
            "dropped": [B("ok", 0.1)],
            "fourth": [B("fail", 0.05)],
        },
        controller=tv.ControllerConfig(max_slot_queue=3),
    )


def scenario_shutdown_with_a_mix() -> Scenario:
    constant = tv.BackoffPolicy.constant(60.0)
    return Scenario(
        (
            add(0.0, tv.TaskSpec.restartable(fn("coop"))),
            add(0.01, tv.TaskSpec.restartable(fn("deaf"))),
            add(0.02, tv.TaskSpec.restartable(fn("rock"))),
            add(0.03, tv.TaskSpec.restartable(fn("backing"), backoff=constant)),
            add(0.04, tv.TaskSpec.periodic(fn("ticker"), 0.3)),
            add(0.05, tv.TaskSpec.restartable(fn("waiting"))),
            add(0.06, tv.TaskSpec.once(fn("done"))),
            Cmd(1.0, "shutdown"),
            Cmd(1.1, "add", "late", spec=tv.TaskSpec.once(fn("late"))),
        ),
        {
            "coop": [B(run=INF, on_cancel=0.013)],
            "deaf": [B(run=INF, on_cancel=None, on_force=0.007)],
            "rock": [B(run=30.0, stubborn=True)],
            "backing": fails(1, 0.1),
            "ticker": [B("ok", 0.05)],
            "waiting": [B(run=INF, on_cancel=0.021)],
            "done": [B("ok", 0.2)],
            "late": [B("ok")],
        },
        grace=0.5,
        force_wait=0.25,
        max_concurrent=5,
    )


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "seed_example": scenario_seed_example,
    "retries_exhausted_with_jitter": scenario_retries_exhausted_with_jitter,
    "periodic": scenario_periodic,
    "removal_of_a_running_task": scenario_removal_of_a_running_task,
    "stubborn_forced_after_grace": scenario_stubborn_task_forced_after_grace,
    "timeout": scenario_timeout,
    "max_concurrent_queue": scenario_max_concurrent_queue,
    "slot_replace": scenario_slot_replace,
    "shutdown_with_a_mix": scenario_shutdown_with_a_mix,
}


# -- the trace both must produce --------------------------------------------------------------

Row = tuple[Any, ...]


def trace(events: Sequence[tv.Event], t0: float) -> list[Row]:
    """What must match: everything the core decided, and when (to the microsecond)."""
    return [
        (
            round(e.at - t0, 6),
            e.kind.name,
            e.task,
            e.attempt,
            e.delay,
            e.outcome,
            e.rejection,
            e.backoff_source,
        )
        for e in events
    ]


# -- through the real runtime -------------------------------------------------------------------


async def through_the_runtime(sc: Scenario) -> list[Row]:
    rec = Recorder()
    SCRIPT.set(sc)
    config = tv.SupervisorConfig(
        seed=sc.seed, grace=sc.grace, force_wait=sc.force_wait, max_concurrent=sc.max_concurrent
    )
    ids: dict[str, tv.TaskId] = {}
    t0 = anyio.current_time()
    sup = tv.Supervisor(config, subscribers=[rec], controller=sc.controller)
    async with sup.serve() as h, anyio.create_task_group() as tg:
        for cmd in sc.commands:
            await anyio.sleep_until(t0 + cmd.at)
            if cmd.op == "add":
                assert cmd.spec is not None
                with contextlib.suppress(tv.ShuttingDown):
                    ids[cmd.name] = await h.add(cmd.spec)
            elif cmd.op == "remove":
                await h.remove(ids[cmd.name])
            elif cmd.op == "submit":
                assert cmd.cspec is not None
                ids[cmd.name] = await h.submit(cmd.cspec)
            else:  # in the background: later commands of the script go on meanwhile
                tg.start_soon(shutdown, h)
    return trace(rec.events, t0)


async def shutdown(h: tv.SupervisorHandle) -> None:
    with contextlib.suppress(tv.GraceExceeded):
        await h.shutdown()


def on_trio(sc: Scenario) -> list[Row]:
    from trio.testing import MockClock

    options = {"clock": MockClock(autojump_threshold=0)}
    return anyio.run(through_the_runtime, sc, backend="trio", backend_options=options)


def on_asyncio(sc: Scenario) -> list[Row]:
    return VirtualClock().run(through_the_runtime(sc))


# -- through the core alone ---------------------------------------------------------------------


def ns(seconds: float) -> int:
    return round(seconds * NS_PER_S)


def through_the_core(sc: Scenario) -> list[Row]:
    """Feed ``fsm.step`` what the runtime would, at the same virtual times; no event loop."""
    config = fsm.CoreConfig(
        sc.grace,
        force_wait=sc.force_wait,
        max_concurrent=sc.max_concurrent,
        subscribers=[fsm.SubscriberInfo(Recorder.name, Recorder.queue_capacity)],
        controller=sc.controller,
        seed=sc.seed,  # SupervisorConfig(seed=...): per-task streams (I8)
    )
    rng = random.Random(sc.seed)
    core = fsm.Stepper(config, rng, checker=fsm.InvariantChecker())  # the one stepping loop
    state = core.state
    events: list[tv.Event] = []
    world: list[tuple[int, int, object]] = []  # (time, seq, Cmd or AttemptEnded)
    seq = 0
    ends: dict[tuple[TaskId, int], int] = {}  # the one pending end of a live attempt (its seq)
    live: dict[tuple[TaskId, int], B] = {}
    ids: dict[str, TaskId] = {}
    ticket = 0

    def schedule(at: int, item: object) -> int:
        nonlocal seq
        seq += 1
        heapq.heappush(world, (at, seq, item))
        return seq

    def end_at(at: int, tid: TaskId, attempt: int, end: EndKind, reason: str = "") -> None:
        ends[(tid, attempt)] = schedule(at, fsm.AttemptEnded(tid, attempt, end, reason))

    for cmd in sc.commands:
        schedule(ns(cmd.at), cmd)
    now = 0
    while True:
        deadline = fsm.next_deadline(state)
        if world and (deadline is None or world[0][0] < deadline):
            now, item_seq, item = heapq.heappop(world)
            if isinstance(item, fsm.AttemptEnded):
                key = (item.task_id, item.attempt)
                if ends.get(key) != item_seq:
                    continue  # superseded: a cancellation changed how this attempt ends
                del ends[key]
                live.pop(key, None)
                inp: fsm.Input = item
            else:
                assert isinstance(item, Cmd)
                ticket += 1
                if item.op == "add":
                    assert item.spec is not None
                    ids[item.name] = TaskId(len(ids) + 1)
                    inp = fsm.AddTasks(ticket, ((ids[item.name], item.spec),))
                elif item.op == "remove":
                    inp = fsm.Remove(ticket, task_id=ids[item.name])
                elif item.op == "submit":
                    assert item.cspec is not None
                    ids[item.name] = TaskId(len(ids) + 1)
                    inp = fsm.Submit(ticket, ids[item.name], item.cspec)
                else:
                    inp = fsm.Shutdown()
        elif deadline is not None:
            assert not world or world[0][0] != deadline, "a script input ties with a deadline"
            now = max(now, deadline)
            inp = fsm.TICK
        else:
            break
        effects = core.feed(inp, now)
        for eff in effects:
            if isinstance(eff, fsm.Publish):
                events.append(eff.event)
            elif isinstance(eff, fsm.StartAttempt):
                b = behaviour_of(sc, eff.name, eff.attempt)
                live[(eff.task_id, eff.attempt)] = b
                if b.run != INF:
                    kind = {
                        "ok": EndKind.RETURNED,
                        "fail": EndKind.FAILED,
                        "fatal": EndKind.FATAL,
                        "canceled": EndKind.CANCELED,
                    }[b.end]
                    reason = {
                        "ok": "",
                        "fail": f"{eff.name} attempt {eff.attempt}",
                        "fatal": f"{eff.name} is done for",
                        "canceled": f"{eff.name} gave up",
                    }[b.end]
                    if b.stubborn:
                        kind, reason = EndKind.RETURNED, ""
                    end_at(now + ns(b.run), eff.task_id, eff.attempt, kind, reason)
            elif isinstance(eff, fsm.RequestCancel):
                b = live.get((eff.task_id, eff.attempt))
                if b is not None and not b.stubborn and b.on_cancel is not None:
                    end_at(now + ns(b.on_cancel), eff.task_id, eff.attempt, EndKind.RETURNED)
            elif isinstance(eff, fsm.ForceCancel):
                b = live.get((eff.task_id, eff.attempt))
                if b is not None and not b.stubborn:
                    end_at(now + ns(b.on_force), eff.task_id, eff.attempt, EndKind.INTERRUPTED)
    assert state.shutdown is not None
    assert state.shutdown.done
    fsm.check_trace(events)
    return trace(events, 0.0)


# -- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SCENARIOS))
@pytest.mark.parametrize(
    "runtime", [on_trio, on_asyncio], ids=["trio-mockclock", "asyncio-virtual"]
)
def test_the_runtime_gives_the_cores_trace(
    name: str, runtime: Callable[[Scenario], list[Row]]
) -> None:
    sc = SCENARIOS[name]()
    expected = through_the_core(sc)
    actual = runtime(sc)
    assert actual == expected


def test_the_scenarios_cover_what_the_issue_lists() -> None:
    seen: dict[str, set[str]] = {}
    for name, make in SCENARIOS.items():
        seen[name] = {row[1] for row in through_the_core(make())}
    kinds = set().union(*seen.values())
    for kind in (
        "ACTOR_EXHAUSTED",  # max_retries exhaustion, once
        "ACTOR_DEAD",  # Fatal
        "TIMEOUT_HIT",
        "TASK_REMOVE_REQUESTED",
        "TASK_CANCELED",  # a task raising Canceled
        "CONTROLLER_REJECTED",  # SUPERSEDED_BY_REPLACE, SLOT_BUSY
        "CONTROLLER_SLOT_TRANSITION",
        "GRACE_EXCEEDED",  # shutdown with a stubborn task
        "TASK_ADD_FAILED",  # an add after shutdown
    ):
        assert kind in kinds, kind
    outcomes = {row[5] for make in SCENARIOS.values() for row in through_the_core(make())}
    assert {tv.OutcomeKind.FORCE_ABORTED, tv.OutcomeKind.CANCELED, tv.OutcomeKind.FATAL} <= outcomes
    replace = through_the_core(scenario_slot_replace())
    rejections = {row[6] for row in replace if row[6] is not None}
    assert rejections == {tv.RejectionKind.SUPERSEDED_BY_REPLACE, tv.RejectionKind.SLOT_BUSY}
    seed = [row[1] for row in through_the_core(scenario_seed_example()) if row[2] == "flaky"]
    assert seed == [
        "TASK_ADD_REQUESTED",
        "TASK_ADDED",
        "TASK_STARTING",
        "TASK_FAILED",
        "BACKOFF_SCHEDULED",
        "TASK_STARTING",
        "TASK_FAILED",
        "BACKOFF_SCHEDULED",
        "TASK_STARTING",
        "TASK_STOPPED",
        "ACTOR_EXHAUSTED",
        "TASK_REMOVED",
    ]  # docs/spec/api.md section 1, exactly
