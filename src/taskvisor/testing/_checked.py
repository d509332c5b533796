"""A checked driver of the pure core: every step runs under I1-I8 and the contract model.

Owns: ``CheckedCore``, a thin driver: an ``fsm.Stepper`` (the one stepping loop, architecture
rule 8) whose checker chain is ``fsm.InvariantChecker`` (the core's own ``fsm.check_step``) and
the test kit's ``ContractModel`` (``taskvisor.testing._model``: a model of the contract built
only from what a driver observes, one part per concern). It feeds inputs at an explicit virtual
time and offers the conveniences tests need (ids and tickets, ``end``, ``fire_next``, ``play``);
``drain`` shuts down and runs to the end; ``verify`` checks the whole run (every task ended
exactly once, ``fsm.check_trace``). Plain Python: no Hypothesis, no pytest, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from taskvisor.fsm import (
    AttemptEnded,
    CheckerChain,
    ControllerSpec,
    CoreConfig,
    Effect,
    EndKind,
    Event,
    EventsConsumed,
    Input,
    InvariantChecker,
    InvariantViolation,
    RandomSource,
    Shutdown,
    Stepper,
    SupervisorState,
    TaskId,
    TaskOutcome,
    TaskSpec,
    Tick,
    next_deadline,
)
from taskvisor.testing._branch import fork_model
from taskvisor.testing._model import ContractModel
from taskvisor.testing._model._common import fail

__all__ = ["CheckedCore"]


class CheckedCore:
    """Drives ``fsm.step`` one input at a time and checks every transition.

    Attributes:
        config: the core's configuration.
        core: the ``fsm.Stepper`` that steps the core (its checker chain does the checking).
        model: the ``ContractModel`` judging every step (its parts hold what the events showed).
        log: ``(now, input, effects)`` for every step (an I8 trace).
        failed: a step raised; the model may be out of step, so further steps are refused.

    Read-only views of the model: ``events`` (every published event, in order), ``in_flight``
    (the attempt each task runs, as started by ``StartAttempt`` and not yet ended or
    abandoned; I3: at most one per task), ``ended`` (``(task, attempt)`` pairs whose end the
    core has taken), ``abandoned`` (attempts the core stopped waiting for; their late ends are
    stale), ``started`` (the last attempt number per task), ``outcomes`` (the one ``Finished``
    outcome of each task, I1), ``specs`` (the spec of every task id fed so far), ``submitted``
    (the ``ControllerSpec`` of every submission), ``added`` / ``removed`` (ids that got
    ``TASK_ADDED`` / ``TASK_REMOVED``), ``depths`` (subscriber queue depths), ``shutdown_at``
    and ``shutdown_done``.
    """

    def __init__(self, config: CoreConfig, rng: RandomSource, *, now: int = 0) -> None:
        self.config = config
        self.model = ContractModel(config)
        # The one stepping loop (rule 8): check_step, then the contract model, on every step.
        self.core = Stepper(
            config, rng, checker=CheckerChain(InvariantChecker(), self.model), now=now
        )
        self.log: list[tuple[int, Input, tuple[Effect, ...]]] = []
        self.failed = False
        self._next_id = 1
        self._ticket = 0

    @property
    def state(self) -> SupervisorState:
        """The core's state (owned and mutated by every step: snapshot it to keep a copy)."""
        return self.core.state

    @property
    def rng(self) -> RandomSource:
        """The core's random source (jitter draws)."""
        return self.core.rng

    @rng.setter
    def rng(self, rng: RandomSource) -> None:
        self.core.rng = rng

    @property
    def now(self) -> int:
        """The current virtual time (integer ns)."""
        return self.core.now

    @now.setter
    def now(self, value: int) -> None:
        if value < self.core.now:
            raise ValueError(f"virtual time never goes backwards: {value} < {self.core.now}")
        self.core.now = value

    # -- what the model saw ------------------------------------------------------------------

    @property
    def events(self) -> list[Event]:
        return self.model.registry.events

    @property
    def specs(self) -> dict[TaskId, TaskSpec]:
        return self.model.registry.specs

    @property
    def added(self) -> dict[TaskId, str]:
        return self.model.registry.added

    @property
    def removed(self) -> set[TaskId]:
        return self.model.registry.removed

    @property
    def outcomes(self) -> dict[TaskId, TaskOutcome]:
        return self.model.registry.outcomes

    @property
    def in_flight(self) -> dict[TaskId, int]:
        return self.model.restarts.in_flight

    @property
    def started(self) -> dict[TaskId, int]:
        return self.model.restarts.started

    @property
    def ended(self) -> set[tuple[TaskId, int]]:
        return self.model.restarts.ended

    @property
    def abandoned(self) -> set[tuple[TaskId, int]]:
        return self.model.restarts.abandoned

    @property
    def submitted(self) -> dict[TaskId, ControllerSpec]:
        return self.model.slots.submitted

    @property
    def depths(self) -> list[int]:
        return self.model.bus.depths

    @property
    def shutdown_at(self) -> int | None:
        return self.model.stopping.shutdown_at

    @property
    def shutdown_done(self) -> bool:
        return self.model.stopping.done

    # -- ids and tickets ---------------------------------------------------------------------

    def new_id(self) -> TaskId:
        """A fresh ``TaskId`` (the runtime never reuses one)."""
        tid = TaskId(self._next_id)
        self._next_id += 1
        return tid

    def ticket(self) -> int:
        """A fresh reply ticket."""
        self._ticket += 1
        return self._ticket

    # -- the one way in ----------------------------------------------------------------------

    def feed(self, inp: Input, now: int | None = None) -> list[Effect]:
        """Step the core once at ``now`` (default: the current time) and check the step.

        Raises:
            fsm.InvariantViolation: the step broke an invariant; the message names it.
            ValueError: ``now`` is earlier than the current time.
        """
        if now is not None:
            self.now = now
        if self.failed:
            raise InvariantViolation("a previous step of this CheckedCore failed its checks")
        try:
            effects = self.core.feed(inp, self.core.now)
        except BaseException:
            self.failed = True
            raise
        self.log.append((self.core.now, inp, tuple(effects)))
        return effects

    def fork(self, rng: RandomSource | None = None) -> CheckedCore:
        """An independent copy that steps on its own from here (for explorers that branch).

        The state is cloned and the model and log copied at any depth (``_branch``), so
        nothing one copy does shows in the other; the random source is shared unless ``rng``
        is given.
        """
        return fork_model(self, self.core.rng if rng is None else rng, SupervisorState.clone)

    # -- conveniences ------------------------------------------------------------------------

    def tick(self, now: int | None = None) -> list[Effect]:
        """Feed a ``Tick`` at ``now`` (default: the current time)."""
        return self.feed(Tick(), now)

    def fire_next(self) -> list[Effect]:
        """Jump to the core's next deadline and tick there (aioquic's timer loop)."""
        deadline = next_deadline(self.state)
        if deadline is None:
            raise ValueError("no deadline pending")
        return self.tick(max(deadline, self.now))

    def end(self, tid: TaskId, end: EndKind = EndKind.RETURNED, reason: str = "") -> list[Effect]:
        """Report that ``tid``'s attempt in flight ended with ``end``."""
        return self.feed(AttemptEnded(tid, self.in_flight[tid], end, reason))

    def play(self, script: Iterable[tuple[int, Input]]) -> None:
        """Feed a script of ``(advance_ns, input)`` steps (``input_scripts``).

        ``EventsConsumed`` counts are clamped to the subscriber's queue depth, as a runtime
        only reports events a subscriber really took.
        """
        for advance, inp in script:
            if isinstance(inp, EventsConsumed):
                depth = self.depths[inp.subscriber]
                inp = EventsConsumed(inp.subscriber, min(inp.count, depth))
            self.feed(inp, self.now + advance)

    def drain(self, *, max_steps: int = 100_000) -> None:
        """Shut down (if not yet) and run until shutdown is done (I7).

        Attempts of even-numbered tasks end cooperatively as soon as they are asked to stop;
        the others are left to the grace and force-wait deadlines, so both paths are taken.
        """
        if self.shutdown_at is None:
            self.feed(Shutdown())
        for _ in range(max_steps):
            if self.shutdown_done:
                return
            cooperative = sorted(t for t in self.in_flight if t.value % 2 == 0)
            if cooperative:
                self.end(cooperative[0], EndKind.CANCELED, "canceled")
            elif next_deadline(self.state) is not None:
                self.fire_next()
            else:
                fail("I7", f"shutdown stuck: {len(self.state.tasks)} tasks, no deadline")
        fail("I7", f"shutdown not done after {max_steps} steps")

    def verify(self) -> None:
        """Whole-run checks once every task is gone: I1 for every id, then ``check_trace``."""
        self.model.verify(self.state)
