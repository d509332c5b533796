"""``supervisor``: the supervisor machine under a seeded storm, checked against I1-I9.

Owns the storm (docs/simulator.md, scenario 5). The real core (``fsm.step`` through
``_engine.CoreDriver``) faces a seeded script of adds (some batches carry a duplicate name and
must be rejected whole), controller submissions to a few shared slots (QUEUE, REPLACE and
DROP_IF_RUNNING), removals by id and by name, and finally a shutdown followed by late adds and
submissions. Task bodies end in every way docs/spec/api.md lists (return, fail, fatal, cancel, a
backend
interruption, a timeout); some ignore cooperative cancellation and some even ignore force, so
grace, force and abandonment all happen. Two subscribers have bounded queues: ``fast`` is
drained every 10 ms, ``slow`` only ``slow_batch`` events every ``slow_every`` seconds, fed to
the core as late ``EventsConsumed`` inputs, so its queue overflows and events are dropped (I5).

Checks: ``_checks.RunChecker``, the checker the scale tests use too, on the driver's stepper:
``fsm.check_trace`` over the whole event trace, streamed (I1, I3, I4 delay ranges, I8 seq);
``fsm.check_step`` (every invariant on the step and the new state) on every step while fewer
than 100 tasks are live and on every ``live // 10``-th step beyond (or every ``check_every``-th),
always ``fsm.check_state`` on the final state; on every step, no restart before its backoff
deadline (I4), permits, queue depths, drop and overflow accounting (I3, I5), one owner per slot
(I6), one ``Finished`` per task (I1) and shutdown within ``grace + force_wait`` (I7); at the
end, every accepted task added and removed exactly once (I1). Here: replaying the same seed
gives the same trace digest (I8).

A violation raises ``fsm.InvariantViolation`` naming the invariant. Must not import the runtime;
does no I/O.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping, Sequence

from taskvisor.fsm import (
    NS_PER_S,
    AddReply,
    AddTasks,
    AdmissionPolicy,
    AttemptEnded,
    BackoffPolicy,
    ControllerConfig,
    ControllerSpec,
    CoreConfig,
    Effect,
    EndKind,
    Event,
    EventKind,
    EventsConsumed,
    Finished,
    ForceCancel,
    InvariantViolation,
    JitterPolicy,
    Publish,
    Remove,
    RequestCancel,
    RestartPolicy,
    Shutdown,
    ShutdownDone,
    StartAttempt,
    Submit,
    SubmitReply,
    SubscriberInfo,
    TaskFn,
    TaskId,
    TaskSpec,
)
from taskvisor.sim._checks import RunChecker
from taskvisor.sim._engine import CoreDriver
from taskvisor.sim._metrics import RateCounter
from taskvisor.sim._scenario import (
    Metric,
    Param,
    PolicyDefaults,
    RunResult,
    RunSeeds,
    Scenario,
    Value,
    p_float,
    p_int,
    p_ns,
    p_opt_int,
)

__all__ = ["SUPERVISOR"]

EK = EventKind
_MS = 1_000_000
_FAST, _SLOW = 0, 1
# How an attempt ends when nobody stops it (weights); a timeout comes from long durations.
_ENDINGS = (
    (EndKind.RETURNED, 40),
    (EndKind.FAILED, 45),
    (EndKind.FATAL, 3),
    (EndKind.CANCELED, 2),
    (EndKind.INTERRUPTED, 5),
)
_END_KINDS = [k for k, _ in _ENDINGS]
_END_WEIGHTS = [w for _, w in _ENDINGS]
# The storm's operations (weights). SUBMIT goes through the controller (docs/spec/api.md section 6).
_OPS = ("add", "submit", "remove_id", "remove_name")
_OP_WEIGHTS = (50, 20, 20, 10)


async def _never_run(ctx: object) -> None:  # pragma: no cover - the simulator runs no bodies
    """Stands for a task's body; the storm decides how each attempt ends."""


class _Storm:
    """One storm: the world model around a ``CoreDriver``, and the checks it runs."""

    def __init__(
        self,
        params: Mapping[str, Value],
        policy: BackoffPolicy,
        seeds: RunSeeds,
        series: bool = False,
    ) -> None:
        self.total = p_int(params, "tasks")
        self.arrival_ns = max(1, NS_PER_S // p_int(params, "rate"))
        self.slots = p_int(params, "slots")
        self.slow_every = p_ns(params, "slow_every")
        self.slow_batch = p_int(params, "slow_batch")
        self.policy = policy
        self.world = seeds.world_rng()
        grace = p_float(params, "grace")
        force_wait = p_float(params, "force_wait")
        limit = p_opt_int(params, "max_concurrent")
        config = CoreConfig(
            grace,
            force_wait=force_wait,
            max_concurrent=limit,
            subscribers=[
                SubscriberInfo("fast", p_int(params, "fast_capacity")),
                SubscriberInfo("slow", p_int(params, "slow_capacity")),
            ],
            controller=ControllerConfig(max_slot_queue=8),
            seed=seeds.tasks,  # each task its own stream (I8), checked at scale
        )
        self.driver = CoreDriver(config, seeds.policy_rng(), self._on_effects)
        # Full checks on every check_every-th step, or (0) every step while fewer than 100
        # tasks are live and every live/10-th step beyond.
        every = p_int(params, "check_every")
        self.checker = RunChecker(config, every=every, per=10).attach(self.driver)
        self.names: dict[TaskId, str] = {}  # live tasks (for removals), by id
        self.live: list[TaskId] = []  # the same ids, for O(1) random choice
        self.where: dict[TaskId, int] = {}
        self.temper: dict[TaskId, int] = {}  # 0 cooperative, 1 ignores cancel, 2 ignores force
        self.next_id = 1
        self.next_ticket = 1
        self.issued = 0
        self.shutdown_at: int | None = None
        self.shutdown_took: int | None = None
        self.digest = hashlib.blake2b(digest_size=16)
        self.counts = dict.fromkeys(
            (
                "accepted",
                "rejected",
                "finished",
                "overflow",
                "events",
                "max_live",
            ),
            0,
        )
        self.rate = RateCounter(NS_PER_S, keep=series)

    # -- the script ---------------------------------------------------------------------------

    def _spec(self, tid: TaskId, name: str) -> TaskSpec:
        w = self.world
        shape = w.random()
        if shape < 0.2:
            restart = RestartPolicy.NEVER
        elif shape < 0.7:
            restart = RestartPolicy.ON_FAILURE
        else:
            restart = RestartPolicy.always(0.5)
        retries = None if w.random() < 0.3 else w.randint(1, 5)
        timeout = 1.0 if w.random() < 0.3 else None
        self.temper[tid] = 0 if w.random() < 0.9 else (1 if w.random() < 0.7 else 2)
        return TaskSpec(
            TaskFn(name, _never_run),
            restart=restart,
            backoff=self.policy,
            max_retries=retries,
            timeout=timeout,
        )

    def _new(self) -> tuple[TaskId, str]:
        tid = TaskId(self.next_id)
        self.next_id += 1
        return tid, f"t{tid.value}"

    def _ticket(self) -> int:
        self.next_ticket += 1
        return self.next_ticket

    def _operate(self, now: int) -> None:
        """One operation of the storm, then schedule the next (or the shutdown)."""
        w, d = self.world, self.driver
        op = w.choices(_OPS, _OP_WEIGHTS)[0] if self.live else "add"
        if op == "add":
            items = []
            for _ in range(w.randint(1, 4)):
                tid, name = self._new()
                items.append((tid, self._spec(tid, name)))
            if self.live and w.random() < 0.02:  # a duplicate name rejects the whole batch (I2)
                tid, _ = self._new()
                dup = self.names[self.live[w.randrange(len(self.live))]]
                items.append((tid, self._spec(tid, dup)))
            self.issued += len(items)
            d.at(now, AddTasks(self._ticket(), tuple(items)))
        elif op == "submit":
            tid, name = self._new()
            admission = w.choice(list(AdmissionPolicy))
            cspec = ControllerSpec(
                self._spec(tid, name), admission, f"slot-{w.randrange(self.slots)}"
            )
            self.issued += 1
            d.at(now, Submit(self._ticket(), tid, cspec))
        elif op == "remove_id":
            target = self.live[w.randrange(len(self.live))]
            d.at(now, Remove(self._ticket(), task_id=target))
        else:
            target = self.live[w.randrange(len(self.live))]
            d.at(now, Remove(self._ticket(), name=self.names[target]))
        if self.issued < self.total:
            gap = int(-math.log(1.0 - w.random()) * self.arrival_ns)
            d.call_at(now + gap, self._operate_now)
        else:
            d.call_at(now + 2 * self.arrival_ns, self._shutdown)

    # -- the world's side of the effects -------------------------------------------------------

    def _track(self, tid: TaskId, name: str) -> None:
        self.where[tid] = len(self.live)
        self.live.append(tid)
        self.names[tid] = name
        self.counts["max_live"] = max(self.counts["max_live"], len(self.live))

    def _untrack(self, tid: TaskId) -> None:
        pos = self.where.pop(tid, None)
        if pos is None:
            return
        last = self.live.pop()
        if last != tid:
            self.live[pos] = last
            self.where[last] = pos
        self.names.pop(tid, None)

    def _on_effects(self, d: CoreDriver, effects: Sequence[Effect]) -> None:
        now, w = d.now, self.world
        for eff in effects:
            if isinstance(eff, Publish):
                self._published(eff.event, now)
            elif isinstance(eff, StartAttempt):
                self.rate.add(now)
                duration = int(-math.log(1.0 - w.random()) * 500 * _MS)
                kind = w.choices(_END_KINDS, _END_WEIGHTS)[0]
                d.at(now + duration, AttemptEnded(eff.task_id, eff.attempt, kind, "storm"))
            elif isinstance(eff, RequestCancel):
                if self.temper.get(eff.task_id, 0) == 0:
                    end = w.choice((EndKind.CANCELED, EndKind.RETURNED))
                    d.at(
                        now + w.randrange(1, 50) * _MS, AttemptEnded(eff.task_id, eff.attempt, end)
                    )
            elif isinstance(eff, ForceCancel):
                if self.temper.get(eff.task_id, 0) < 2:
                    ended = AttemptEnded(eff.task_id, eff.attempt, EndKind.INTERRUPTED)
                    d.at(now + w.randrange(1, 20) * _MS, ended)
            elif isinstance(eff, Finished):
                self.counts["finished"] += 1
                self._untrack(eff.task_id)
                self.temper.pop(eff.task_id, None)
            elif isinstance(eff, AddReply | SubmitReply):
                if eff.rejection is not None:
                    self.counts["rejected"] += 1
            elif isinstance(eff, ShutdownDone) and self.shutdown_took is None:
                assert self.shutdown_at is not None
                self.shutdown_took = now - self.shutdown_at

    def _published(self, ev: Event, now: int) -> None:
        self.counts["events"] += 1
        tid = ev.task_id
        kind = ev.kind
        self.digest.update(
            b"%d %d %d %d %d;"
            % (ev.seq, kind.value, -1 if tid is None else tid.value, ev.attempt or 0, now)
        )
        if kind is EK.TASK_ADDED and tid is not None and ev.task is not None:
            self.counts["accepted"] += 1
            self._track(tid, ev.task)
        elif kind is EK.SUBSCRIBER_OVERFLOW:
            self.counts["overflow"] += 1

    # -- the run ------------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule the storm's first operation and the subscribers' draining."""
        d = self.driver
        d.call_at(0, self._operate_now)
        d.call_at(10 * _MS, self._drain_fast)
        d.call_at(self.slow_every, self._drain_slow)

    def events(self) -> Iterator[Event]:
        """Run the storm (checked); yield every published event in order."""
        self.start()
        yield from self.checker.trace(self.driver)

    def run(self) -> None:
        """Run the storm under every check (``RunChecker.run``: trace, steps, final state)."""
        self.start()
        self.checker.run(self.driver)

    def _operate_now(self, d: CoreDriver) -> None:
        self._operate(d.now)

    def _shutdown(self, d: CoreDriver) -> None:
        now = d.now
        self.shutdown_at = now
        d.at(now, Shutdown())
        # Late work after shutdown began must be rejected SHUTTING_DOWN.
        tid, name = self._new()
        d.at(now + _MS, AddTasks(self._ticket(), ((tid, self._spec(tid, name)),)))
        tid, name = self._new()
        d.at(now + 2 * _MS, Submit(self._ticket(), tid, ControllerSpec(self._spec(tid, name))))

    def _drain_fast(self, d: CoreDriver) -> None:
        depth = d.state.bus.depths[_FAST]
        if depth:
            d.at(d.now, EventsConsumed(_FAST, depth))
        if self.shutdown_took is None or depth:
            d.call_at(d.now + 10 * _MS, self._drain_fast)

    def _drain_slow(self, d: CoreDriver) -> None:
        # Late and little: the queue fills up and events are dropped for this subscriber (I5).
        take = min(self.slow_batch, d.state.bus.depths[_SLOW])
        if take:
            d.at(d.now, EventsConsumed(_SLOW, take))
        if self.shutdown_took is None or d.state.bus.depths[_SLOW]:
            d.call_at(d.now + self.slow_every, self._drain_slow)


def _run(
    params: Mapping[str, Value], policy: BackoffPolicy, seeds: RunSeeds, series: bool
) -> RunResult:
    storm = _Storm(params, policy, seeds, series)
    storm.run()
    c = storm.counts
    if params["replay"] == "yes":  # I8: the same seed gives the same trace, bit for bit
        again = _Storm(params, policy, seeds)
        for _ in again.events():
            pass
        if again.digest.digest() != storm.digest.digest():
            raise InvariantViolation("I8: replaying the same seed gave a different trace")
    s = storm.driver.state
    storm.rate.finish(storm.driver.now + 1)
    metrics = {
        "tasks": float(c["accepted"]),
        "rejected": float(c["rejected"]),
        "steps": float(storm.driver.steps),
        "events": float(c["events"]),
        "checks": float(storm.checker.checks),
        "max_live": float(c["max_live"]),
        "fast_high_water": float(s.bus.high_water[_FAST]),
        "slow_high_water": float(s.bus.high_water[_SLOW]),
        "fast_dropped": float(s.bus.dropped[_FAST]),
        "slow_dropped": float(s.bus.dropped[_SLOW]),
        "overflow_events": float(c["overflow"]),
        "stuck": float(len(s.shutdown.stuck) if s.shutdown else 0),
        "shutdown_time": (storm.shutdown_took or 0) / NS_PER_S,
    }
    if not series:
        return RunResult(metrics)
    return RunResult(metrics, tuple(storm.rate.series), storm.rate.series_bin_ns)


SUPERVISOR = Scenario(
    name="supervisor",
    summary="a seeded storm of add/submit/remove/shutdown with slow subscribers, checking I1-I9",
    params=(
        Param("tasks", "int", 10_000, "tasks added or submitted over the storm", low=1, high=10**7),
        Param("rate", "int", 1000, "operations per second of the storm", low=1, high=10**7),
        Param(
            "max_concurrent",
            "int",
            1000,
            "most attempts running at once (none: unlimited)",
            low=1,
            high=10**7,
            none_ok=True,
        ),
        Param("slots", "int", 20, "controller slots the submissions share", low=1, high=10**6),
        Param(
            "fast_capacity", "int", 1024, "queue capacity of the fast subscriber", low=1, high=10**7
        ),
        Param(
            "slow_capacity", "int", 64, "queue capacity of the slow subscriber", low=1, high=10**7
        ),
        Param(
            "slow_every",
            "float",
            0.05,
            "the slow subscriber takes events every (s)",
            low=1e-6,
            high=3600.0,
        ),
        Param(
            "slow_batch", "int", 16, "events the slow subscriber takes each time", low=1, high=10**7
        ),
        Param("grace", "float", 1.0, "grace before force-cancel (s)", low=0.0, high=3600.0),
        Param(
            "force_wait",
            "float",
            0.5,
            "wait after force before abandoning (s)",
            low=0.0,
            high=3600.0,
        ),
        Param(
            "check_every",
            "int",
            0,
            "full invariant check every N steps "
            "(0: every step under 100 live tasks, then every live/10)",
            low=0,
            high=10**9,
        ),
        Param(
            "replay",
            "choice",
            "yes",
            "run the storm twice and compare the traces (I8)",
            choices=("yes", "no"),
        ),
    ),
    metrics=(
        Metric("tasks", "tasks accepted into the registry"),
        Metric(
            "rejected", "adds and submissions rejected (duplicate, slot busy, shutting down...)"
        ),
        Metric("steps", "fsm.step calls"),
        Metric("events", "events published"),
        Metric("checks", "full fsm.check_step calls (all invariants on the step and state)"),
        Metric("max_live", "most tasks in the registry at once"),
        Metric("fast_high_water", "deepest the fast subscriber's queue got"),
        Metric("slow_high_water", "deepest the slow subscriber's queue got"),
        Metric("fast_dropped", "events dropped for the fast subscriber"),
        Metric("slow_dropped", "events dropped for the slow subscriber"),
        Metric("overflow_events", "SUBSCRIBER_OVERFLOW events published"),
        Metric("stuck", "tasks that had to be force-cancelled at shutdown"),
        Metric("shutdown_time", "time from Shutdown to ShutdownDone (s)"),
    ),
    run_fn=_run,
    policies=PolicyDefaults(first=0.2, max=30.0, jitters=(JitterPolicy.EQUAL,)),
    seeds=1,
    durations="",
)
