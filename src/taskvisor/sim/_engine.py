"""The discrete-event engine: virtual time in integer nanoseconds, no event loop, no sleeping.

Owns two drivers of the same idea, a heap of timestamped events popped in time order:

- ``Timeline``: the lean form for the world models whose entities are many clients or tasks
  (contention, outage, flapping). An event is one ``int`` key, ``(t << ENTITY_BITS) | entity``,
  so the heap compares plain integers (the cheapest ordering Python has) and ties break on the
  entity number, deterministically (I8). Models may inline ``heappush``/``heappop`` on
  ``Timeline.heap`` with the same encoding in their hottest loops.
- ``CoreDriver``: drives the supervisor machine itself, ``fsm.step``, as the runtime does
  (docs/spec/architecture.md rule 5): it feeds world inputs at their time, fires the core's one next
  deadline (``fsm.next_deadline``) with ``TICK``, and hands every effect to the world model.
  It can check every step with the core's own invariant checks.

Must not import the runtime or anything that does I/O.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence

from taskvisor.fsm import (
    TICK,
    CoreConfig,
    Effect,
    Input,
    InvariantChecker,
    RandomSource,
    Stepper,
    SupervisorState,
    next_deadline,
)

__all__ = ["ENTITY_BITS", "CoreDriver", "Timeline", "WorldCall"]

ENTITY_BITS = 21  # up to 2**21 - 1 entities per timeline
_ENTITY_MASK = (1 << ENTITY_BITS) - 1


class Timeline:
    """A min-heap of ``(time_ns, entity)`` events packed into single integers.

    >>> tl = Timeline()
    >>> tl.push(30, 2); tl.push(10, 7); tl.push(30, 1)
    >>> [tl.pop() for _ in range(len(tl))]
    [(10, 7), (30, 1), (30, 2)]
    """

    __slots__ = ("heap",)

    def __init__(self) -> None:
        self.heap: list[int] = []

    @staticmethod
    def key(t: int, entity: int) -> int:
        """The packed key of an event (what the heap stores)."""
        if not 0 <= entity <= _ENTITY_MASK:
            raise ValueError(f"entity {entity} outside [0, {_ENTITY_MASK}]")
        if t < 0:
            raise ValueError(f"event time {t} is negative")
        return (t << ENTITY_BITS) | entity

    def push(self, t: int, entity: int) -> None:
        """Schedule ``entity`` at time ``t`` (ns)."""
        heapq.heappush(self.heap, self.key(t, entity))

    def pop(self) -> tuple[int, int]:
        """The earliest event as ``(t, entity)``; ties in entity order."""
        key = heapq.heappop(self.heap)
        return key >> ENTITY_BITS, key & _ENTITY_MASK

    def peek_time(self) -> int | None:
        """The time of the earliest event, or None when empty."""
        return self.heap[0] >> ENTITY_BITS if self.heap else None

    def __len__(self) -> int:
        return len(self.heap)


EffectHandler = Callable[["CoreDriver", Sequence[Effect]], None]


class WorldCall:
    """A world-side timer in the driver's queue: ``fn(driver)`` runs at its time, no core step."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[CoreDriver], None]) -> None:
        self.fn = fn


class CoreDriver:
    """Runs ``fsm.step`` on virtual time for a world model.

    Args:
        config: the core's configuration (subscribers, max_concurrent, grace, controller...).
        rng: the core's random source (jitter draws), e.g. ``RunSeeds.policy_rng()``.
        on_effects: called with the effects of every step, in order; the world model carries
            them out, typically by scheduling inputs with ``at``.
        check_every: run ``fsm.check_step`` (I1-I9 on the step and the new state) on every
            ``check_every``-th step; 0 never. Checking is O(tasks) per check.

    The loop (``run``) takes the earliest of the next world input and the core's next
    deadline. A world input and a deadline at the same instant: the world input goes first, a
    fixed choice so runs replay exactly (I8).
    """

    __slots__ = ("_checker", "_seq", "core", "inputs", "on_effects")

    def __init__(
        self,
        config: CoreConfig,
        rng: RandomSource,
        on_effects: EffectHandler,
        *,
        check_every: int = 0,
    ) -> None:
        # The one stepping loop (architecture rule 8), with I1-I9 sampled when asked.
        self._checker = InvariantChecker(check_every) if check_every else None
        self.core = Stepper(config, rng, checker=self._checker)
        self.on_effects = on_effects
        self.inputs: list[tuple[int, int, Input | WorldCall]] = []
        self._seq = 0

    @property
    def state(self) -> SupervisorState:
        """The core's state (owned by the stepper; read it, do not keep it across steps)."""
        return self.core.state

    @property
    def now(self) -> int:
        """Virtual time, integer ns."""
        return self.core.now

    @now.setter
    def now(self, value: int) -> None:
        self.core.now = value

    @property
    def rng(self) -> RandomSource:
        return self.core.rng

    @property
    def steps(self) -> int:
        """Steps fed so far."""
        return self.core.steps

    @property
    def checks(self) -> int:
        """Steps checked so far."""
        return 0 if self._checker is None else self._checker.checks

    @property
    def check_every(self) -> int:
        """Run the invariant checks on every ``check_every``-th step; 0 never."""
        return 0 if self._checker is None else self._checker.every

    @check_every.setter
    def check_every(self, every: int) -> None:
        if self._checker is None:
            self._checker = InvariantChecker(every)
            self.core.checker = self._checker
        else:
            self._checker.every = every

    def at(self, t: int, inp: Input | WorldCall) -> None:
        """Feed ``inp`` to the core at time ``t`` (not before ``now``); FIFO at equal times."""
        if t < self.now:
            raise ValueError(f"cannot schedule at {t} ns, before now ({self.now} ns)")
        heapq.heappush(self.inputs, (t, self._seq, inp))
        self._seq += 1

    def call_at(self, t: int, fn: Callable[[CoreDriver], None]) -> None:
        """Run ``fn(self)`` at time ``t``: the world acting on its own (a timer, a script)."""
        self.at(t, WorldCall(fn))

    def feed(self, inp: Input) -> list[Effect]:
        """Apply ``inp`` now: one ``fsm.step``, checked if due; effects go to the world."""
        effects = self.core.feed(inp, self.core.now)
        self.on_effects(self, effects)
        return effects

    def advance(self, until: int | None = None) -> bool:
        """Process the earliest input or deadline, unless it lies after ``until``.

        Returns:
            False when nothing is left to do before ``until`` (time is then ``until``).
        """
        inputs = self.inputs
        deadline = next_deadline(self.core.state)
        t_in = inputs[0][0] if inputs else None
        if t_in is not None and (deadline is None or t_in <= deadline):
            if until is None or t_in <= until:
                t, _, inp = heapq.heappop(inputs)
                self.now = t
                if isinstance(inp, WorldCall):
                    inp.fn(self)
                else:
                    self.feed(inp)
                return True
        elif deadline is not None and (until is None or deadline <= until):
            self.now = max(self.now, deadline)
            self.feed(TICK)
            return True
        if until is not None and until > self.now:
            self.now = until
        return False

    def run(self, until: int | None = None) -> None:
        """Process inputs and deadlines in time order until none is left or ``until`` passes."""
        while self.advance(until):
            pass
