"""``SupervisorMachine``: a Hypothesis rule-based state machine over the whole pure core.

Owns: the shipped state machine (zarr ships its stateful machines the same way). It drives the
core through ``CheckedCore`` with every input a runtime can feed — adds (fresh and duplicate
names, batches), removals by id and by name, attempt ends of every kind, stale ends, time
(to the next deadline, a late tick, or past a running attempt's ``reset_after``), submissions
under each admission policy, subscribers that keep up or fall behind or panic, and shutdown —
and checks I1-I9 after every step. Users subclass it and override the strategy hooks to check
*their* specs and policies. Requires Hypothesis; must not import pytest or anything that does
I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from random import Random
from typing import Any, TypeVar

from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from taskvisor._task_errors import Fail
from taskvisor.fsm import (
    NS_PER_S,
    AddTasks,
    AdmissionPolicy,
    AttemptEnded,
    ControllerSpec,
    CoreConfig,
    EndKind,
    EventKind,
    EventsConsumed,
    Heartbeat,
    Remove,
    Shutdown,
    Submit,
    SubscriberPanicked,
    SubscriberRecovered,
    TaskId,
    TaskSpec,
    check_state,
    next_deadline,
)
from taskvisor.testing import _strategies as strategies
from taskvisor.testing._checked import CheckedCore

__all__ = ["SupervisorMachine"]

#: Slot names the machine submits to (a slot also defaults to its task's name).
SLOTS = ("s0", "s1", "s2")
#: What a subscriber may be handling when it panics: unknown, a task event, or a diagnostic
#: (the core reports the first two and not the last).
_PANIC_KINDS = (
    None,
    EventKind.TASK_STARTING,
    EventKind.SUBSCRIBER_PANICKED,
    EventKind.SUBSCRIBER_OVERFLOW,
)


T = TypeVar("T")

_STRATEGIES: dict[tuple[type, str], st.SearchStrategy[Any]] = {}


#: Exceptions an attempt's failure may carry: none, a Fail, and two plain exception types.
_FAILURE_ERRORS: tuple[Any, ...] = (
    lambda: None,
    lambda: Fail("fail"),
    lambda: ConnectionError("reset"),
    lambda: ValueError("bad"),
)


def _pick(data: st.DataObject, items: Sequence[T], label: str) -> T:
    """``data.draw(st.sampled_from(items))`` without building a new strategy per draw."""
    return items[data.draw(st.integers(0, len(items) - 1), label=label)]


def _has_core(machine: SupervisorMachine) -> bool:
    return machine._core is not None


def _has_controller(machine: SupervisorMachine) -> bool:
    return machine._core is not None and machine._core.config.controller is not None


def _has_subscribers(machine: SupervisorMachine) -> bool:
    return machine._core is not None and bool(machine._core.config.subscribers)


class SupervisorMachine(RuleBasedStateMachine):
    """The whole core under random inputs, checked against I1-I9 after every step.

    Run it as a test with ``TestSupervisor = SupervisorMachine.TestCase`` (pytest or unittest
    collects it). Subclass it to check your own specs and policies: override ``core_configs``,
    ``task_specs``, ``task_names`` or ``admission_policies`` (each returns a Hypothesis
    strategy), and add rules of your own. At teardown the machine shuts the core down, runs it
    to the end and checks the whole run (``CheckedCore.drain`` and ``verify``); set
    ``drain_at_teardown = False`` to skip that.

    Example:
        >>> class MyPolicies(SupervisorMachine):
        ...     def task_specs(self):
        ...         return st.builds(lambda n: TaskSpec.restartable(my_task, name=n),
        ...                          self.task_names())
        >>> TestMyPolicies = MyPolicies.TestCase  # doctest: +SKIP
    """

    task_ids = Bundle("task_ids")
    slot_names = Bundle("slot_names")

    #: Shut down, run to the end and verify the whole run at teardown.
    drain_at_teardown: bool = True
    #: The ``shutdown`` rule is enabled only after this many steps, so runs live long enough.
    shutdown_after_steps: int = 20

    def __init__(self) -> None:
        super().__init__()
        self._core: CheckedCore | None = None

    # -- hooks: override these to check your own policies ------------------------------------

    def core_configs(self) -> st.SearchStrategy[CoreConfig]:
        """The configurations to run under (default: ``strategies.core_configs()``)."""
        return strategies.core_configs()

    def task_specs(self) -> st.SearchStrategy[TaskSpec]:
        """The specs that ``add_tasks`` and ``submit`` register (they may name the retry
        budgets of ``strategies.core_configs``, and have a start jitter)."""
        return strategies.task_specs(self.task_names(), budgets=strategies.BUDGETS)

    def task_names(self) -> st.SearchStrategy[str]:
        """Names for specs and for removal by name: a small pool, so that names clash (I2)."""
        return strategies.task_names()

    def admission_policies(self) -> st.SearchStrategy[AdmissionPolicy]:
        """The admission policies submissions use."""
        return strategies.admission_policies()

    def end_kinds(self) -> st.SearchStrategy[EndKind]:
        """How attempts end (default: failures most often, so backoff and budgets are hit)."""
        return st.sampled_from((EndKind.FAILED,) * 4 + tuple(EndKind))

    def task_batches(self) -> st.SearchStrategy[list[TaskSpec]]:
        """The batches ``add_tasks`` registers at once (default: 1-3 of ``task_specs``)."""
        return st.lists(self.task_specs(), min_size=1, max_size=3)

    def _strategy(self, hook: str) -> st.SearchStrategy[Any]:
        """``getattr(self, hook)()``, built once per machine class (validation is costly)."""
        key = (type(self), hook)
        strategy = _STRATEGIES.get(key)
        if strategy is None:
            strategy = _STRATEGIES[key] = getattr(self, hook)()
        return strategy

    # -- state ---------------------------------------------------------------------------------

    @property
    def core(self) -> CheckedCore:
        """The checked core (exists once ``configure`` has run)."""
        assert self._core is not None, "configure() has not run"
        return self._core

    @initialize(data=st.data(), rng=st.randoms(use_true_random=False))
    def configure(self, data: st.DataObject, rng: Random) -> None:
        """Draw a configuration; the core's random source is Hypothesis's (shrinkable, I8)."""
        config = data.draw(self._strategy("core_configs"), label="config")
        self._core = CheckedCore(config, rng)

    @initialize(target=slot_names, names=st.lists(st.sampled_from(SLOTS), min_size=1, unique=True))
    def open_slots(self, names: list[str]) -> Any:
        """Slot names for ``submit``."""
        return multiple(*names)

    # -- registry ------------------------------------------------------------------------------

    @precondition(_has_core)
    @rule(target=task_ids, data=st.data())
    def add_tasks(self, data: st.DataObject) -> Any:
        """A batch of 1-3 specs, all-or-nothing (names may clash with live ones or each other)."""
        core = self.core
        specs = data.draw(self._strategy("task_batches"), label="batch")
        items = tuple((core.new_id(), spec) for spec in specs)
        core.feed(AddTasks(core.ticket(), items))
        return multiple(*(tid for tid, _ in items))

    @precondition(_has_core)
    @rule(tid=task_ids)
    def remove_by_id(self, tid: TaskId) -> None:
        """Remove (or cancel: the core sees the same input) a task or submission by id."""
        core = self.core
        core.feed(Remove(core.ticket(), task_id=tid))

    @precondition(_has_core)
    @rule(data=st.data())
    def remove_by_name(self, data: st.DataObject) -> None:
        """Remove by name: a live task, a queued submission, or nothing."""
        core = self.core
        core.feed(Remove(core.ticket(), name=data.draw(self._strategy("task_names"), label="name")))

    # -- attempts ------------------------------------------------------------------------------

    @precondition(lambda self: self._core is not None and bool(self._core.in_flight))
    @rule(
        data=st.data(),
        exit_code=st.one_of(st.none(), st.integers(0, 3)),
        retry_after=strategies.retry_afters(),
    )
    def end_attempt(
        self, data: st.DataObject, exit_code: int | None, retry_after: int | None
    ) -> None:
        """An attempt the core started (and that has not ended) ends, in any way.

        A failure carries an exception object of a drawn type, so ``retry_on`` is exercised,
        and may carry a Retry-After (``Fail(retry_after=...)``).
        """
        core = self.core
        tid = _pick(data, sorted(core.in_flight), "task")
        end = data.draw(self._strategy("end_kinds"), label="end")
        error = None
        if end is EndKind.FAILED:
            error = data.draw(st.sampled_from(_FAILURE_ERRORS), label="error")()
        reason = f"{end.name.lower()}"
        attempt = core.in_flight[tid]
        core.feed(AttemptEnded(tid, attempt, end, reason, exit_code, error, retry_after))

    @precondition(lambda self: self._core is not None and bool(self._core.in_flight))
    @rule(data=st.data(), back=st.integers(0, NS_PER_S))
    def heartbeat(self, data: st.DataObject, back: int) -> None:
        """A running attempt calls ``ctx.heartbeat()`` (reported up to 1 s late)."""
        core = self.core
        tid = _pick(data, sorted(core.in_flight), "task")
        core.feed(Heartbeat(tid, core.in_flight[tid], max(0, core.now - back)))

    @precondition(lambda self: self._core is not None and bool(self._core.in_flight))
    @rule(data=st.data())
    def run_round(self, data: st.DataObject) -> None:
        """Each attempt in flight may end (in a drawn way), then the next deadline fires.

        One step of real progress for every running task, so lifecycles (backoff, retry
        budgets, timeouts, permits) get far in a short run.
        """
        core = self.core
        for tid in sorted(core.in_flight):
            if tid in core.in_flight and data.draw(st.booleans(), label=f"end {tid}"):
                end = data.draw(self._strategy("end_kinds"), label="end")
                after = data.draw(strategies.retry_afters(), label="retry_after")
                reason = end.name.lower()
                core.feed(AttemptEnded(tid, core.in_flight[tid], end, reason, None, None, after))
        if next_deadline(core.state) is not None:
            core.fire_next()

    def _resettable(self) -> list[TaskId]:
        """Tasks in flight with a ``reset_after``: a long enough run would reset their streak."""
        core = self.core
        policies = core.model.registry.policies
        return [tid for tid in sorted(core.in_flight) if policies[tid].reset_after_ns is not None]

    def _restart_after_failure(self, tid: TaskId) -> bool:
        """Fail ``tid``'s attempt now and fire deadlines until it runs again (at most 4).

        Returns whether it runs again, in a failure streak (a permit or budget token it waits
        for, or the end of the task, may keep it from running)."""
        core = self.core
        core.feed(AttemptEnded(tid, core.in_flight[tid], EndKind.FAILED, "failed at once"))
        for _ in range(4):
            if tid in core.in_flight or next_deadline(core.state) is None:
                break
            core.fire_next()
        return tid in core.in_flight and core.model.restarts.failures.get(tid, 0) > 0

    @precondition(lambda self: self._core is not None and bool(self._resettable()))
    @rule(data=st.data())
    def fail_after_a_healthy_run(self, data: st.DataObject) -> None:
        """An attempt in a failure streak runs at least its ``reset_after``, then fails.

        The healthy-run reset (docs/crash-loops.md): that failure starts a new streak. Time
        jumps to a drawn instant from ``reset_after`` up to twice that after the attempt
        started (the other rules move time by seconds; ``reset_after`` defaults to 300 s); the
        deadlines due on the way fire first, so a timeout or watchdog may end the attempt
        before it can fail. A task not yet in a streak first fails at once and is run to its
        restart, so that one rule reaches the reset.
        """
        core = self.core
        tid = _pick(data, self._resettable(), "task")
        if core.model.restarts.failures.get(tid, 0) == 0 and not self._restart_after_failure(tid):
            return
        attempt = core.in_flight[tid]
        reset = core.model.registry.policies[tid].reset_after_ns
        assert reset is not None
        ran = data.draw(st.one_of(st.just(reset), st.integers(reset, 2 * reset - 1)), label="ran")
        core.tick(max(core.now, core.model.restarts.started_at[tid] + ran))
        if core.in_flight.get(tid) == attempt:
            event("an attempt failed after a healthy run")
            core.feed(AttemptEnded(tid, attempt, EndKind.FAILED, "failed after a healthy run"))

    def _stale_attempts(self) -> list[tuple[TaskId, int]]:
        core = self.core
        stale = sorted(core.ended | core.abandoned)
        live = [tid for tid in core.added if tid not in core.removed]
        stale += [(tid, core.started.get(tid, 0) + 1) for tid in sorted(live)]
        return [(tid, n) for tid, n in stale if core.in_flight.get(tid) != n]

    @precondition(lambda self: self._core is not None and bool(self._stale_attempts()))
    @rule(data=st.data(), end=strategies.end_kinds())
    def stale_attempt_ended(self, data: st.DataObject, end: EndKind) -> None:
        """A duplicate, abandoned or never-started attempt reports an end: nothing changes."""
        core = self.core
        tid, attempt = _pick(data, self._stale_attempts(), "stale")
        effects = core.feed(AttemptEnded(tid, attempt, end, "stale"))
        assert not effects, f"stale end of {tid!r} attempt {attempt} had effects {effects}"

    # -- time ----------------------------------------------------------------------------------

    @precondition(
        lambda self: self._core is not None and next_deadline(self._core.state) is not None
    )
    @rule()
    def advance_to_next_deadline(self) -> None:
        """The runtime's timer fires on time at the core's next deadline."""
        self.core.fire_next()

    @precondition(_has_core)
    @rule(delta=st.one_of(st.just(1), st.integers(0, 2 * NS_PER_S)))
    def advance(self, delta: int) -> None:
        """Time moves on by a small amount and the timer fires (possibly late, or for nothing)."""
        core = self.core
        core.tick(core.now + delta)

    # -- admission control ---------------------------------------------------------------------

    @precondition(_has_controller)
    @rule(target=task_ids, data=st.data(), slot=slot_names, named_slot=st.booleans())
    def submit(self, data: st.DataObject, slot: str, named_slot: bool) -> TaskId:
        """Submit a spec to a slot (or to the slot named after the task) under a policy."""
        core = self.core
        spec = data.draw(self._strategy("task_specs"), label="spec")
        admission = data.draw(self._strategy("admission_policies"), label="admission")
        cspec = ControllerSpec(spec, admission, slot if named_slot else None)
        tid = core.new_id()
        core.feed(Submit(core.ticket(), tid, cspec))
        return tid

    # -- subscribers ---------------------------------------------------------------------------

    @precondition(_has_subscribers)
    @rule(data=st.data())
    def consume_events(self, data: st.DataObject) -> None:
        """A subscriber takes some of its queued events (a slow one takes few or none)."""
        core = self.core
        index = data.draw(st.integers(0, len(core.depths) - 1), label="subscriber")
        count = data.draw(st.integers(0, core.depths[index]), label="count")
        core.feed(EventsConsumed(index, count))

    @precondition(_has_subscribers)
    @rule(data=st.data())
    def subscriber_panicked(self, data: st.DataObject) -> None:
        """A subscriber's ``on_event`` raised."""
        core = self.core
        index = data.draw(st.integers(0, len(core.depths) - 1), label="subscriber")
        kind = data.draw(st.sampled_from(_PANIC_KINDS), label="while handling")
        core.feed(SubscriberPanicked(index, "on_event raised", kind))

    @precondition(_has_subscribers)
    @rule(data=st.data())
    def subscriber_recovered(self, data: st.DataObject) -> None:
        """A subscriber handled an event without raising after a panic (the episode ends)."""
        core = self.core
        index = data.draw(st.integers(0, len(core.depths) - 1), label="subscriber")
        core.feed(SubscriberRecovered(index))

    # -- shutdown ------------------------------------------------------------------------------

    @precondition(
        lambda self: self._core is not None and len(self._core.log) >= self.shutdown_after_steps
    )
    @rule()
    def shutdown(self) -> None:
        """Graceful shutdown (again: a repeated request is answered once shutdown is done)."""
        core = self.core
        core.feed(Shutdown())

    # -- checks --------------------------------------------------------------------------------

    @invariant()
    def core_invariants(self) -> None:
        """The core's own state invariants (I1-I3, I5-I7) hold between steps."""
        if self._core is not None:
            check_state(self._core.state)

    def teardown(self) -> None:
        """Run to the end and check the whole run (I1, I7, ``check_trace``)."""
        core = self._core
        if core is None or core.failed or not self.drain_at_teardown:
            return
        note(f"draining {len(core.state.tasks)} live tasks at t={core.now}")
        core.drain()
        core.verify()
