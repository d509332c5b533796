"""The contract model as a step checker: what a driver may expect of the core, step by step.

Owns: ``ContractModel``, a ``fsm.StepChecker`` (architecture rule 8) that judges each step of
the core against a model built only from what a driver observes (inputs, effects, events), not
from the core's state; after every step the model must agree with the state. It is split by
concern (rule 8: the contract lives in one place, split by concern):

- ``RegistryModel``: ids, names, outcomes, batches and removal claims (I1, I2);
- ``RestartModel``: attempts, stale ends, restart decisions, timeouts, backoff deadlines and
  delay ranges (I3, I4);
- ``ControlModel``: the crash-loop controls (``retry_on``, healthy-run reset,
  ``give_up_after``, restart intensity, watchdog) and escalation (I10);
- ``PermitModel``: ``max_concurrent`` and FIFO permits (I3);
- ``BusModel``: subscriber queues, drops, overflow and panic episodes (I5);
- ``SlotModel``: controller slots, admission decisions and rejections (I6);
- ``StoppingModel``: grace, force, abandonment and shutdown (I7);
- ``ShapingModel``: retry budgets, Retry-After, start and interval jitter, per-task random
  streams and every decision (I8, I9).

This module dispatches each input, effect and event to the parts, in a fixed order. Plain
Python: no Hypothesis, no pytest, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from taskvisor.fsm import (
    Abandon,
    AddReply,
    AttemptEnded,
    CoreConfig,
    Effect,
    Escalate,
    Event,
    EventKind,
    EventsConsumed,
    Finished,
    ForceCancel,
    Heartbeat,
    Input,
    Publish,
    RemoveReply,
    RequestCancel,
    StartAttempt,
    StateSnapshot,
    SubmitReply,
    SupervisorState,
)
from taskvisor.testing._branch import independent_copy
from taskvisor.testing._model._bus import BusModel
from taskvisor.testing._model._common import StepRecord
from taskvisor.testing._model._controls import ControlModel
from taskvisor.testing._model._permits import PermitModel
from taskvisor.testing._model._registry import RegistryModel
from taskvisor.testing._model._restarts import RestartModel
from taskvisor.testing._model._shaping import ShapingModel
from taskvisor.testing._model._shutdown import StoppingModel
from taskvisor.testing._model._slots import SlotModel

__all__ = ["ContractModel"]

EK = EventKind
_Handler = Callable[[Any, StepRecord, Input, Event], None]

#: Which parts look at each event kind, in order (a part's bookkeeping may rely on an earlier
#: part's: a slot's owner is set once the registry has taken the TASK_ADDED). Unbound methods,
#: so that a copied model dispatches to its own parts.
_ON_EVENT: dict[EventKind, tuple[tuple[str, _Handler], ...]] = {
    EK.TASK_ADD_REQUESTED: (("slots", SlotModel.add_requested),),
    EK.TASK_ADDED: (
        ("registry", RegistryModel.task_added),
        ("slots", SlotModel.task_added),
        ("shaping", ShapingModel.task_added),
    ),
    EK.TASK_REMOVED: (("registry", RegistryModel.task_removed), ("slots", SlotModel.task_removed)),
    EK.CONTROLLER_SUBMITTED: (("slots", SlotModel.controller_submitted),),
    EK.CONTROLLER_REJECTED: (("slots", SlotModel.rejected),),
    EK.TASK_ADD_FAILED: (("registry", RegistryModel.add_failed),),
    EK.TASK_REMOVE_REQUESTED: (("registry", RegistryModel.remove_requested),),
    EK.TIMEOUT_HIT: (("restarts", RestartModel.timeout_hit),),
    EK.BACKOFF_SCHEDULED: (("restarts", RestartModel.backoff_scheduled),),
    EK.SHUTDOWN_REQUESTED: (("stopping", StoppingModel.shutdown_requested),),
    EK.ALL_STOPPED_WITHIN_GRACE: (("stopping", StoppingModel.done_event),),
    EK.GRACE_EXCEEDED: (("stopping", StoppingModel.done_event),),
    EK.SUBSCRIBER_PANICKED: (("bus", BusModel.panic_reported),),
    EK.TASK_STARTING: (("registry", RegistryModel.task_starting),),
    EK.ACTOR_EXHAUSTED: (("shaping", ShapingModel.final),),
    EK.ACTOR_DEAD: (("shaping", ShapingModel.final),),
}


class ContractModel:
    """Checks every step against the contract (a ``StepChecker``; see the module docstring).

    Use it in a ``fsm.Stepper``'s checker chain, after ``fsm.InvariantChecker``. A failed check
    raises ``fsm.InvariantViolation`` naming the invariant; the model may then be out of step
    with the core, so the driver should stop.

    Attributes:
        config: the core's configuration.
        registry, restarts, controls, permits, bus, slots, stopping, shaping: the parts.
        steps: how many steps were checked.
    """

    def __init__(self, config: CoreConfig) -> None:
        self.config = config
        self.registry = RegistryModel(self)
        self.restarts = RestartModel(self)
        self.controls = ControlModel(self)
        self.permits = PermitModel(self)
        self.bus = BusModel(self)
        self.slots = SlotModel(self)
        self.stopping = StoppingModel(self)
        self.shaping = ShapingModel(self)
        self.steps = 0

    # -- the StepChecker protocol ------------------------------------------------------------

    def before(self, state: SupervisorState) -> StateSnapshot:
        """The state before the step (a stale end must leave it as it was)."""
        return state.snapshot()

    def after(
        self,
        prior: object,
        state: SupervisorState,
        inp: Input,
        effects: Sequence[Effect],
        now: int,
    ) -> None:
        """Read the step's input and effects into the model, then compare it with ``state``."""
        assert isinstance(prior, StateSnapshot)
        self.steps += 1
        registry, restarts, stopping = self.registry, self.restarts, self.stopping
        s = StepRecord(prior, inp, now, restarts.in_flight, registry.names)
        self.shaping.before_step(s)
        registry.fed(inp)
        if isinstance(inp, AttemptEnded):
            restarts.attempt_ended(s, inp, state, effects)
        elif isinstance(inp, EventsConsumed):
            self.bus.consumed(inp)
        elif isinstance(inp, Heartbeat):
            self.controls.heartbeat(s, inp)
        else:
            stopping.ticked(s)
        for eff in effects:
            if isinstance(eff, Publish):
                self._published(s, inp, eff)
            elif isinstance(eff, StartAttempt):
                registry.attempt_started(s, eff)
                restarts.attempt_started(s, eff)
                self.controls.attempt_started(eff.task_id)
                stopping.attempt_started(s, eff)
                self.permits.attempt_started(s, eff)
            elif isinstance(eff, RequestCancel | ForceCancel | Abandon):
                stopping.stopping(s, eff)
            elif isinstance(eff, Finished):
                registry.finished(s, eff)
                self.permits.finished(s, eff)
                restarts.finished(s, eff)
                self.shaping.gone(eff.task_id)
            elif isinstance(eff, AddReply):
                registry.add_reply(s, inp, eff)
            elif isinstance(eff, RemoveReply):
                registry.remove_reply(s, inp, eff)
            elif isinstance(eff, SubmitReply):
                self.slots.submit_reply(s, inp, eff)
            elif isinstance(eff, Escalate):
                self.controls.escalate(s, eff)
            else:
                stopping.shutdown_done(s, inp, eff)
        self.controls.check_escalation(s)
        self._after_step(s, state)

    def _published(self, s: StepRecord, inp: Input, eff: Publish) -> None:
        ev = eff.event
        self.registry.events.append(ev)
        self.shaping.event(ev)
        self.bus.delivered(s, eff)
        self.registry.not_after_removal(ev)
        for part, handler in _ON_EVENT.get(ev.kind, ()):
            handler(getattr(self, part), s, inp, ev)

    def _after_step(self, s: StepRecord, after: SupervisorState) -> None:
        """The model must agree with the core once the whole step is read."""
        registry, restarts = self.registry, self.restarts
        self.bus.check(s, after)
        registry.check_ended(s)
        self.slots.check_superseded(s)
        self.slots.check_no_admission_while_escalating(s)
        registry.check_remove_requested(s)
        restarts.check_end(s, after)
        restarts.check_backoffs(s, after)
        self.shaping.after_step(s, after)
        restarts.check_holding(after)
        registry.check_names(after)
        self.slots.check(after)
        self.permits.check(after)
        restarts.check_tick(s, after)
        self.stopping.check(s, after)

    def fork(self) -> ContractModel:
        """An independent copy of the model (for explorers that branch; see ``CheckedCore``).

        Every part's history is copied at any depth (``_branch.independent_copy``: a task's
        intensity window is a list inside a dict); what it holds that is immutable (ids,
        specs, events, outcomes, the configuration) is shared.
        """
        return independent_copy(self)

    # -- the whole run -----------------------------------------------------------------------

    def verify(self, state: SupervisorState) -> None:
        """Whole-run checks once every task is gone: I1 for every id, then ``check_trace``."""
        self.registry.verify(state)
