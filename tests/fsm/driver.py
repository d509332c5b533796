"""A tiny synchronous driver for the pure core, for tests: no event loop, no clock, no threads.

It feeds inputs to ``fsm.step`` at an explicit virtual time through ``fsm.Stepper`` (the one
stepping loop), records every effect and event, and acknowledges subscriber deliveries (so
queues drain as if every subscriber kept up). Every step is checked by ``fsm.check_step``
(I1-I8 on the transition and the new state), the timer heap's bound, and the test kit's
contract model (``taskvisor.testing._model``, what ``CheckedCore`` checks), so each test also
checks the whole contract on every step it takes. ``verify()`` runs ``fsm.check_trace`` over
the whole trace.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from taskvisor import fsm
from taskvisor.fsm import (
    NS_PER_S,
    AddTasks,
    AttemptEnded,
    CoreConfig,
    Effect,
    EndKind,
    Event,
    EventKind,
    EventsConsumed,
    Finished,
    Input,
    Publish,
    RandomSource,
    Remove,
    RemoveReply,
    Shutdown,
    StartAttempt,
    SubscriberInfo,
    SupervisorState,
    TaskFn,
    TaskId,
    TaskSpec,
    _supervisor,
)
from taskvisor.testing._model import ContractModel

__all__ = ["Driver", "Fed", "body", "check_timer_heap", "fn", "s"]

TIMER_SLACK = _supervisor._TIMER_SLACK


async def body(ctx: object) -> None:
    """A task body; the core never calls it (it only carries ``spec.task``)."""


def fn(name: str) -> TaskFn:
    """A ``TaskFn`` named ``name``."""
    return TaskFn(name, body)


def s(seconds: float) -> int:
    """Seconds to integer nanoseconds (test shorthand)."""
    return round(seconds * NS_PER_S)


class Fixed:
    """A random source that always draws ``u`` (and counts its draws)."""

    def __init__(self, u: float) -> None:
        self.u = u
        self.draws = 0

    def random(self) -> float:
        self.draws += 1
        return self.u


def check_timer_heap(state: SupervisorState) -> None:
    """Stale timer entries stay bounded (rule 7): the heap is compacted past 2n + slack."""
    assert len(state.timers) <= 2 * len(state.tasks) + TIMER_SLACK, len(state.timers)
    if state.timers:  # the top is always live, so next_deadline is exact
        _, token, tid = state.timers[0]
        assert state.tasks[tid].timer == token


class _HeapChecker:
    """A step checker: the timer heap stays bounded with a live top after every step."""

    def before(self, state: SupervisorState) -> None:
        return None

    def after(
        self, prior: object, state: SupervisorState, inp: Input, effects: object, now: int
    ) -> None:
        check_timer_heap(state)


class Fed(NamedTuple):
    """A command's ticket and the effects of its step."""

    ticket: int
    effects: list[Effect]


class Driver:
    """Holds the current state and time; every input goes through ``feed``.

    Attributes:
        state: the current ``SupervisorState``.
        now: the current virtual time (integer ns).
        events: every event published so far, in order.
        effects: every effect so far, in order.
        log: ``(now, input, effects)`` for every step, acknowledgements included (I8 traces).
        auto_ack: after each step, feed ``EventsConsumed`` for what each subscriber received.
        model: the contract model judging every step (``taskvisor.testing``), or None for a
            driver made with ``contract=False``.
        ceilings: each added task's I4 bound ``max(max, floor)`` in seconds.
    """

    def __init__(
        self,
        config: CoreConfig | None = None,
        *,
        seed: int = 0,
        rng: RandomSource | None = None,
        auto_ack: bool = True,
        contract: bool = True,
    ) -> None:
        if config is None:
            config = CoreConfig(grace=1.0, force_wait=0.5, subscribers=[SubscriberInfo("rec")])
        self.rng: RandomSource = random.Random(seed) if rng is None else rng
        # The one stepping loop (architecture rule 8), checked after every step: the core's own
        # check_step, the timer heap's bound, and the test kit's contract model (left out only
        # by tests that feed what the contract says a driver never does, e.g. a reused id).
        self.model = ContractModel(config) if contract else None
        checkers: list[fsm.StepChecker] = [fsm.InvariantChecker(), _HeapChecker()]
        if self.model is not None:
            checkers.append(self.model)
        self.core = fsm.Stepper(config, self.rng, checker=fsm.CheckerChain(*checkers))
        self.auto_ack = auto_ack
        self.events: list[Event] = []
        self.effects: list[Effect] = []
        self.log: list[tuple[int, Input, tuple[Effect, ...]]] = []
        self.ceilings: dict[TaskId, float] = {}
        self._next_id = 1
        self._ticket = 0

    @classmethod
    def make(
        cls,
        *,
        grace: float = 1.0,
        force_wait: float = 0.5,
        max_concurrent: int | None = None,
        subscribers: Sequence[SubscriberInfo] = (SubscriberInfo("rec"),),
        defaults: fsm.TaskDefaults | None = None,
        seed: int = 0,
        auto_ack: bool = True,
        contract: bool = True,
        retry_budgets: Mapping[str, fsm.RetryBudget] | None = None,
        streams: bool = False,
    ) -> Driver:
        """A driver over a fresh ``CoreConfig`` built from these settings.

        ``streams``: ``seed`` also seeds per-task random streams (``CoreConfig.seed``).
        """
        config = CoreConfig(
            grace,
            force_wait=force_wait,
            max_concurrent=max_concurrent,
            subscribers=subscribers,
            defaults=defaults,
            retry_budgets=retry_budgets,
            seed=seed if streams else None,
        )
        return cls(config, seed=seed, auto_ack=auto_ack, contract=contract)

    # -- the one way in -------------------------------------------------------------------------

    def feed(self, inp: Input, now: int | None = None) -> list[Effect]:
        """Step the core once at ``now`` (default: the current time); check and record it."""
        if now is not None:
            assert now >= self.now, "virtual time never goes backwards"
            self.now = now
        effects = self.core.feed(inp, self.now)
        self.effects.extend(effects)
        self.log.append((self.now, inp, tuple(effects)))
        delivered: dict[int, int] = {}
        for eff in effects:
            if isinstance(eff, Publish):
                self.events.append(eff.event)
                for index in eff.recipients:
                    delivered[index] = delivered.get(index, 0) + 1
        if self.auto_ack:
            for index, count in sorted(delivered.items()):
                self.feed_quietly(EventsConsumed(index, count))
        return effects

    def feed_quietly(self, inp: Input) -> None:
        """Step once (checked and logged) without acknowledging deliveries."""
        effects = self.core.feed(inp, self.now)
        assert not effects
        self.log.append((self.now, inp, ()))

    @property
    def state(self) -> SupervisorState:
        """The core's state (owned by the stepper; snapshot it to keep a copy)."""
        return self.core.state

    @property
    def now(self) -> int:
        return self.core.now

    @now.setter
    def now(self, value: int) -> None:
        self.core.now = value

    # -- commands ---------------------------------------------------------------------------------

    def new_id(self) -> TaskId:
        tid = TaskId(self._next_id)
        self._next_id += 1
        return tid

    def ticket(self) -> int:
        self._ticket += 1
        return self._ticket

    def add_batch(self, specs: Iterable[TaskSpec]) -> tuple[list[TaskId], list[Effect]]:
        """Register ``specs`` as one batch; returns their ids and the step's effects."""
        items = tuple((self.new_id(), spec) for spec in specs)
        defaults = self.state.config.defaults
        for tid, spec in items:
            self.ceilings[tid] = spec.resolve(defaults).backoff.ceiling_ns / NS_PER_S
        effects = self.feed(AddTasks(self.ticket(), items))
        return [tid for tid, _ in items], effects

    def add(self, spec: TaskSpec) -> TaskId:
        """Register one task and return its id."""
        ids, _ = self.add_batch([spec])
        return ids[0]

    def end(
        self,
        tid: TaskId,
        end: EndKind = EndKind.RETURNED,
        reason: str = "",
        *,
        exit_code: int | None = None,
        attempt: int | None = None,
        error: BaseException | None = None,
        retry_after: float | None = None,
    ) -> list[Effect]:
        """Report that ``tid``'s current attempt (or ``attempt``) ended with ``end``
        (``retry_after``: the failure's own delay, seconds)."""
        if attempt is None:
            attempt = self.state.tasks[tid].attempt
        after = None if retry_after is None else s(retry_after)
        return self.feed(AttemptEnded(tid, attempt, end, reason, exit_code, error, after))

    def feed_remove(self, tid: TaskId | None = None, name: str | None = None) -> Fed:
        """Feed ``Remove``; returns its ticket and the step's effects."""
        ticket = self.ticket()
        return Fed(ticket, self.feed(Remove(ticket, tid, name)))

    def remove(self, tid: TaskId | None = None, name: str | None = None) -> bool:
        """Feed ``Remove``; returns whether this request claimed the task."""
        fed = self.feed_remove(tid, name)
        replies = [e for e in fed.effects if isinstance(e, RemoveReply)]
        assert len(replies) == 1
        assert replies[0].ticket == fed.ticket
        return replies[0].claimed

    def shutdown(self) -> list[Effect]:
        return self.feed(Shutdown())

    # -- time -------------------------------------------------------------------------------------

    def next_deadline(self) -> int | None:
        return fsm.next_deadline(self.state)

    def fire_next(self) -> list[Effect]:
        """Jump to the next deadline and tick there (it must exist)."""
        deadline = self.next_deadline()
        assert deadline is not None, "no deadline pending"
        return self.feed(fsm.TICK, max(deadline, self.now))

    def wait_until(self, now: int) -> None:
        """Move time to ``now`` without ticking: no deadline may lie before it."""
        deadline = self.next_deadline()
        assert now >= self.now
        assert deadline is None or now <= deadline, "a deadline would be skipped"
        self.now = now

    def advance(self, seconds: float) -> list[Effect]:
        """Move time forward by ``seconds``, ticking at every deadline passed on the way and at
        the end (a driver may wake at any time; a tick before a deadline must do nothing)."""
        target = self.now + s(seconds)
        effects: list[Effect] = []
        while (deadline := self.next_deadline()) is not None and deadline <= target:
            effects.extend(self.feed(fsm.TICK, max(deadline, self.now)))
        effects.extend(self.feed(fsm.TICK, target))
        return effects

    # -- what happened ----------------------------------------------------------------------------

    def kinds(self, tid: TaskId) -> list[EventKind]:
        """The kinds of every event that carried ``tid``, in order."""
        return [e.kind for e in self.events if e.task_id == tid]

    def events_of(self, tid: TaskId) -> list[Event]:
        return [e for e in self.events if e.task_id == tid]

    def all_kinds(self) -> list[EventKind]:
        return [e.kind for e in self.events]

    def starts(self, tid: TaskId | None = None) -> list[StartAttempt]:
        return [
            e
            for e in self.effects
            if isinstance(e, StartAttempt) and (tid is None or e.task_id == tid)
        ]

    def finished(self, tid: TaskId) -> list[Finished]:
        return [e for e in self.effects if isinstance(e, Finished) and e.task_id == tid]

    def outcome(self, tid: TaskId) -> fsm.TaskOutcome:
        """The one ``Finished`` outcome of ``tid`` (I1: exactly one)."""
        done = self.finished(tid)
        assert len(done) == 1, done
        return done[0].outcome

    def is_live(self, tid: TaskId) -> bool:
        return tid in self.state.tasks

    def verify(self) -> None:
        """``check_trace`` over every event, with each task's I4 ceiling (max(max, floor))."""
        fsm.check_trace(self.events, self.ceilings)
