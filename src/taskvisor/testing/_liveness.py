"""Liveness from one state: shutdown completes, and every task the core holds can be ended.

Owns: ``check_liveness`` and the enumerated random source ``Draws`` that ``explore`` steps
with. Sampling never shows that "something good eventually happens"; from a given state a
short deterministic run can. Three runs, each on a copy of the state, stepping ``fsm.step``
only with inputs a runtime may feed:

- deaf shutdown: ``Shutdown``, then only ticks at the next deadline (no attempt ever ends):
  ``ShutdownDone`` must come, by the time shutdown began plus grace plus force-wait, plus how
  late the timer fired since (I7); once done, a repeated ``Shutdown`` is answered at once;
- cooperative shutdown: ``Shutdown``, then every attempt in flight ends ``CANCELED`` at once:
  ``ShutdownDone`` must come at that same instant (nothing waits on a timer);
- each task ends: for every id added or submitted and not finished, ``Remove`` it, then only
  ticks: its ``Finished`` must come, within grace plus force-wait (I1, I7).

A run that finds no deadline pending while it still waits is a core that would wait forever.
Plain Python: no Hypothesis, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from taskvisor import fsm
from taskvisor.fsm import (
    TICK,
    Abandon,
    AttemptEnded,
    CoreConfig,
    EndKind,
    Finished,
    Input,
    Remove,
    Shutdown,
    ShutdownDone,
    StartAttempt,
    TaskId,
)

__all__ = ["DRAWS", "Draws", "Failure", "check_liveness", "fork_state"]

if TYPE_CHECKING:
    from taskvisor.testing._alphabet import Book

#: The values each random draw is tried at: the lowest, just below the highest, the middle.
#: The first is what a draw gets before the search enumerates it.
DRAWS = (0.0, math.nextafter(1.0, 0.0), 0.5)

#: Most ticks a liveness run takes before it gives up (each tick moves time forward, I4).
_MAX_TICKS = 1000


class Draws:
    """A random source whose draws are chosen: ``values`` in order, then ``DRAWS[0]``."""

    __slots__ = ("calls", "values")

    def __init__(self, values: tuple[float, ...]) -> None:
        self.values = values
        self.calls = 0

    def random(self) -> float:
        i = self.calls
        self.calls = i + 1
        return self.values[i] if i < len(self.values) else DRAWS[0]

    def used(self) -> tuple[float, ...]:
        """The values drawn so far, in order."""
        return self.values[: self.calls] + (DRAWS[0],) * (self.calls - len(self.values))


def fork_state(state: Any) -> Any:
    """An independent copy to step: ``clone()`` where it exists; an immutable state is itself."""
    clone = getattr(state, "clone", None)
    return clone() if clone is not None else state


@attrs.frozen
class Failure:
    """A liveness property broken: the inputs after the state and the check that fails."""

    invariant: str
    message: str
    steps: list[tuple[int, Input, tuple[float, ...]]]
    final_check: str


class _Run:
    """Steps a copy of a state with plain ``fsm.step`` and notes what the effects say."""

    def __init__(self, state: Any, now: int, in_flight: Sequence[tuple[TaskId, int]]) -> None:
        self.state = fork_state(state)
        self.now = now
        self.steps: list[tuple[int, Input, tuple[float, ...]]] = []
        self.done = False
        self.finished: set[TaskId] = set()
        self.in_flight = dict(in_flight)

    def feed(self, inp: Input, now: int | None = None) -> None:
        if now is not None:
            self.now = now
        draws = Draws(())
        try:
            self.state, effects = fsm.step(self.state, inp, self.now, draws)
        finally:  # a step that raises is the last step of the counterexample
            self.steps.append((self.now, inp, draws.used()))
        if isinstance(inp, AttemptEnded) and self.in_flight.get(inp.task_id) == inp.attempt:
            del self.in_flight[inp.task_id]
        for eff in effects:
            if isinstance(eff, ShutdownDone):
                self.done = True
            elif isinstance(eff, Finished):
                self.finished.add(eff.task_id)
            elif isinstance(eff, StartAttempt):
                self.in_flight[eff.task_id] = eff.attempt
            elif isinstance(eff, Abandon):
                self.in_flight.pop(eff.task_id, None)

    def tick(self) -> bool:
        """Tick at the next deadline; False when there is none (the core would wait forever)."""
        deadline = fsm.next_deadline(self.state)
        if deadline is None:
            return False
        self.feed(TICK, max(deadline, self.now))
        return True


def _shutdown_done_check(bound: int, message: str) -> str:
    return (
        "\ndone = [t for t, _, effs in core.log for e in effs if isinstance(e, ShutdownDone)]\n"
        f"assert done and done[0] <= {bound}, {message!r}\n"
    )


def _deaf_shutdown(run: _Run, config: CoreConfig, book: Book) -> Failure | None:
    start = run.now if book.shutdown_at is None else book.shutdown_at
    bound = start + config.grace_ns + config.force_wait_ns + book.lag
    if book.done:  # done long ago, perhaps: the answer must come at once
        bound = run.now
    run.feed(Shutdown())
    for _ in range(_MAX_TICKS):
        if run.done or run.now > bound:
            break
        if not run.tick():
            message = f"shutdown from {start} waits forever: no deadline pending, not done"
            return Failure(
                "liveness:shutdown", message, run.steps, _shutdown_done_check(bound, message)
            )
    if run.done and run.now <= bound:
        return None
    message = (
        f"shutdown from {start} not done by {bound} (grace + force-wait) with no attempt ending"
    )
    return Failure("liveness:shutdown", message, run.steps, _shutdown_done_check(bound, message))


def _cooperative_shutdown(run: _Run) -> Failure | None:
    run.feed(Shutdown())
    for _ in range(_MAX_TICKS):
        if not run.in_flight:
            break
        tid, attempt = min(run.in_flight.items())
        run.feed(AttemptEnded(tid, attempt, EndKind.CANCELED, "canceled"))
    if run.done:
        return None
    message = "every attempt ended when asked to stop, yet shutdown is not done at that instant"
    return Failure("liveness:shutdown", message, run.steps, _shutdown_done_check(run.now, message))


def _task_ends(run: _Run, config: CoreConfig, ticket: int, tid: TaskId) -> Failure | None:
    bound = run.now + config.grace_ns + config.force_wait_ns
    run.feed(Remove(ticket, task_id=tid))
    for _ in range(_MAX_TICKS):
        if tid in run.finished or run.now > bound or not run.tick():
            break
    if tid in run.finished and run.now <= bound:
        return None
    message = f"{tid!r} removed, no attempt ending: not finished by {bound} (grace + force-wait)"
    check = (
        "\nended = [t for t, _, effs in core.log for e in effs\n"
        f"         if isinstance(e, Finished) and e.task_id == {tid!r}]\n"
        f"assert ended and ended[0] <= {bound}, {message!r}\n"
    )
    return Failure("liveness:task-end", message, run.steps, check)


def check_liveness(state: Any, config: CoreConfig, book: Book, ticket: int) -> Failure | None:
    """The first liveness property broken from ``state`` (see the module), or None.

    ``book`` is what the search knows of the state (ids not finished, attempts in flight, when
    shutdown began and how late the timer was since); ``ticket`` the next command's ticket.
    """
    targets: list[TaskId | None] = [None, None, *book.pending]  # two shutdowns, then each task
    for i, tid in enumerate(targets):
        run = _Run(state, book.now, book.in_flight)
        try:
            if tid is not None:
                failure = _task_ends(run, config, ticket, tid)
            elif i == 0:
                failure = _deaf_shutdown(run, config, book)
            else:
                failure = _cooperative_shutdown(run)
        except Exception as exc:  # the step itself raised during the run
            failure = Failure("crash", f"{type(exc).__name__}: {exc}", run.steps, "")
        if failure is not None:
            return failure
    return None
