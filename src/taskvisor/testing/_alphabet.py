"""What a runtime can feed the core at a state, and what the search knows of that state.

Owns: ``Alphabet`` (every legal input at a state, the preconditions of the stateful machines)
and ``Book`` with ``advance`` (the facts ``explore`` keeps about a state from the effects seen on
the way to it: the time, the next id, the ids not finished, the attempts in flight and
abandoned, the subscriber queue depths, when shutdown began). The search never reads these from
the state's fields; they are part of its deduplication key. Plain Python, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from taskvisor import fsm
from taskvisor.fsm import (
    TICK,
    Abandon,
    AddTasks,
    AdmissionPolicy,
    AttemptEnded,
    ControllerSpec,
    CoreConfig,
    Effect,
    EndKind,
    EventKind,
    EventsConsumed,
    Finished,
    Heartbeat,
    Input,
    Publish,
    Remove,
    Shutdown,
    ShutdownDone,
    StartAttempt,
    Submit,
    SubscriberPanicked,
    SubscriberRecovered,
    TaskId,
    TaskSpec,
    Tick,
)

__all__ = ["Alphabet", "Book", "advance"]

#: How each way of ending an attempt is reported. One reason for all: the core decides nothing
#: on it, but keeps the latest failure's reason (``h.snapshot()``), and a second wording would
#: only split equal states in two.
_REASONS = {
    EndKind.RETURNED: "",
    EndKind.FAILED: "boom",
    EndKind.FATAL: "boom",
    EndKind.CANCELED: "boom",
    EndKind.INTERRUPTED: "boom",
}
#: A panic while handling a task event is reported; one on a diagnostic event is not (I5).
_PANICS = (EventKind.TASK_STARTING, EventKind.SUBSCRIBER_OVERFLOW)


class Book(NamedTuple):
    """What the search knows about a state from the effects seen on the way to it."""

    now: int
    next_id: int
    pending: tuple[TaskId, ...]  # ids fed (added or submitted) without a Finished yet
    in_flight: tuple[tuple[TaskId, int], ...]  # attempts started, not ended nor abandoned
    abandoned: tuple[tuple[TaskId, int], ...]  # abandoned attempts whose late end may come
    depths: tuple[int, ...]  # subscriber queue depths
    shutdown_at: int | None  # when shutdown was requested
    lag: int  # how late the timer fired since then, in all (a late tick delays shutdown, I7)
    done: bool  # ShutdownDone was seen


class Alphabet:
    """Every input a runtime can feed at a state (the preconditions of the stateful machines).

    Adds of each spec and of all specs at once (duplicates included: a name that is live is
    rejected, I2); removals (the core sees ``cancel`` as the same input) of every id not yet
    finished, of one finished id (all are answered alike), and by every name; every way each
    attempt in flight can end (a failure also with an exception outside ``retry_on`` when a
    spec narrows it), and its heartbeat when a spec has a watchdog; the late end of an
    abandoned attempt; submissions of each spec under each admission policy to each slot
    (with a controller); a subscriber taking one or all of its queued events, panicking on a
    task event and on a diagnostic event, and recovering; shutdown (again, too); and time: a
    tick at the next deadline, one at the instant before it (nothing may fire there, I4), and
    one ``jump`` later for each of ``jumps`` (a run that long, or a timer that late). With
    ``retry_afters``, a failure may also carry each of them as its Retry-After.
    """

    def __init__(
        self,
        specs: Sequence[TaskSpec],
        config: CoreConfig,
        slots: Sequence[str | None],
        jumps: Sequence[int],
        retry_afters: Sequence[int] = (),
    ) -> None:
        self.specs = tuple(specs)
        self.retry_afters = tuple(retry_afters)  # a failure's own delay (Fail(retry_after=...))
        self.names = tuple(dict.fromkeys(spec.name for spec in specs))
        self.subscribers = len(config.subscribers)
        self.jumps = tuple(jumps)
        self.submits: tuple[ControllerSpec, ...] = ()
        if config.controller is not None:
            self.submits = tuple(
                ControllerSpec(spec, admission, slot)
                for spec in self.specs
                for admission in AdmissionPolicy
                for slot in slots
            )
        policies = [spec.resolve(config.defaults) for spec in self.specs]
        self.heartbeats = any(p.watchdog_ns is not None for p in policies)
        # A builtin exception some spec does not retry (docs/spec/api.md section 8), if any.
        self.unretried = next(
            (
                exc
                for exc in (LookupError, ValueError, OSError, RuntimeError)
                if any(not issubclass(exc, p.retry_on) for p in policies)
            ),
            None,
        )

    def inputs(self, book: Book, state: Any, ticket: int) -> Iterator[tuple[Input, int]]:
        now, nid = book.now, book.next_id
        fresh = TaskId(nid)
        for spec in self.specs:
            yield AddTasks(ticket, ((fresh, spec),)), now
        if len(self.specs) > 1:
            batch = tuple((TaskId(nid + i), spec) for i, spec in enumerate(self.specs))
            yield AddTasks(ticket, batch), now
        for cspec in self.submits:
            yield Submit(ticket, fresh, cspec), now
        yield from self._removals(book, ticket)
        yield from ((inp, now) for inp in self._attempts(book))
        for index, depth in enumerate(book.depths):
            if depth:
                yield EventsConsumed(index, 1), now
            if depth > 1:
                yield EventsConsumed(index, depth), now
        for index in range(self.subscribers):
            for kind in _PANICS:
                yield SubscriberPanicked(index, "on_event raised", kind), now
            yield SubscriberRecovered(index), now
        yield Shutdown(), now
        deadline = fsm.next_deadline(state)
        if deadline is not None:
            yield TICK, max(deadline, now)
            if deadline - 1 > now:
                yield TICK, deadline - 1
        for jump in self.jumps:
            yield TICK, now + jump

    def _removals(self, book: Book, ticket: int) -> Iterator[tuple[Input, int]]:
        now = book.now
        for tid in book.pending:
            yield Remove(ticket, task_id=tid), now
        gone = [v for v in range(book.next_id - 1, 0, -1) if TaskId(v) not in book.pending]
        if gone:  # every finished id is answered alike (not claimed): the newest stands for all
            yield Remove(ticket, task_id=TaskId(gone[0])), now
        for name in self.names:
            yield Remove(ticket, name=name), now

    def _attempts(self, book: Book) -> Iterator[Input]:
        for tid, attempt in book.in_flight:
            for end, reason in _REASONS.items():
                yield AttemptEnded(tid, attempt, end, reason)
            for delay in self.retry_afters:
                yield AttemptEnded(tid, attempt, EndKind.FAILED, "busy", retry_after_ns=delay)
            if self.unretried is not None:
                error = self.unretried("boom")
                yield AttemptEnded(tid, attempt, EndKind.FAILED, "boom", error=error)
            if self.heartbeats:
                yield Heartbeat(tid, attempt, book.now)
        for tid, attempt in book.abandoned:
            yield AttemptEnded(tid, attempt, EndKind.RETURNED, "late end")


def advance(book: Book, inp: Input, now: int, effects: Sequence[Effect], due: int | None) -> Book:
    """The book after ``inp`` at ``now`` had ``effects`` (``due``: the deadline before it)."""
    pending = set(book.pending)
    in_flight = dict(book.in_flight)
    abandoned = set(book.abandoned)
    depths = list(book.depths)
    next_id, shutdown_at, lag, done = book.next_id, book.shutdown_at, book.lag, book.done
    if isinstance(inp, Tick) and shutdown_at is not None and due is not None and due < now:
        lag += now - due
    if isinstance(inp, AddTasks):
        next_id += len(inp.items)
        pending.update(tid for tid, _ in inp.items)
    elif isinstance(inp, Submit):
        next_id += 1
        pending.add(inp.task_id)
    elif isinstance(inp, AttemptEnded):
        if in_flight.get(inp.task_id) == inp.attempt:
            del in_flight[inp.task_id]
        else:
            abandoned.discard((inp.task_id, inp.attempt))
    elif isinstance(inp, EventsConsumed):
        depths[inp.subscriber] -= inp.count
    for eff in effects:
        if isinstance(eff, Publish):
            for index in eff.recipients:
                depths[index] += 1
            if eff.event.kind is EventKind.SHUTDOWN_REQUESTED:
                shutdown_at = now
        elif isinstance(eff, StartAttempt):
            in_flight[eff.task_id] = eff.attempt
        elif isinstance(eff, Abandon):
            in_flight.pop(eff.task_id, None)
            abandoned.add((eff.task_id, eff.attempt))
        elif isinstance(eff, Finished):
            pending.discard(eff.task_id)
        elif isinstance(eff, ShutdownDone):
            done = True
    return Book(
        now,
        next_id,
        tuple(sorted(pending)),
        tuple(sorted(in_flight.items())),
        tuple(sorted(abandoned)),
        tuple(depths),
        shutdown_at,
        lag,
        done,
    )
