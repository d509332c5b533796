"""What the parts of the contract model share: failing a check, and what one step has shown.

Owns: ``fail`` (raise ``InvariantViolation`` with the invariant's code), ``StepRecord`` (the
scratch record of one step, reset for every step, that the parts fill in while the step's
effects are read and check once they all are) and ``EXACT_NS``. Plain Python, no I/O.
"""

from __future__ import annotations

from typing import NoReturn

from taskvisor.fsm import (
    Escalate,
    Event,
    EventKind,
    Input,
    InvariantViolation,
    OutcomeKind,
    RejectionKind,
    StateSnapshot,
    TaskId,
    TaskOutcome,
)

__all__ = ["EXACT_NS", "StepRecord", "fail"]

#: Below this many nanoseconds a delay survives the float-seconds round trip exactly
#: (relative error 2**-53 times the value stays under half a nanosecond).
EXACT_NS = 1 << 52


def fail(code: str, message: str) -> NoReturn:
    """Raise ``InvariantViolation``; the message starts with the invariant's code."""
    raise InvariantViolation(f"{code}: {message}")


class StepRecord:
    """What one step has shown so far (a new record for every step).

    Attributes:
        before: the state's snapshot taken before the step.
        inp: the step's input; ``now`` its time.
        in_flight_before, names_before: the model's attempts in flight and live names before
            the step.
        expected_end: the restart decision the contract requires for a real attempt end.
    """

    __slots__ = (
        "admitting",
        "backoffs",
        "before",
        "done_event",
        "escalated",
        "expect_aborted",
        "expect_escalation",
        "expect_remove_requested",
        "expect_submit",
        "expect_superseded",
        "expected_end",
        "handled",
        "in_flight_before",
        "inp",
        "names_before",
        "now",
        "outcomes",
        "overflows",
        "panic_reports",
        "rejected",
        "remove_requested",
        "removed",
        "shutdown_done",
    )

    def __init__(
        self,
        before: StateSnapshot,
        inp: Input,
        now: int,
        in_flight: dict[TaskId, int],
        names: dict[str, TaskId],
    ) -> None:
        self.before = before
        self.inp = inp
        self.now = now
        self.in_flight_before = dict(in_flight)
        self.names_before = dict(names)
        self.expected_end: tuple[str, object] | None = None
        self.handled: set[TaskId] = set()  # started or finished in this step (permit FIFO)
        self.removed: dict[TaskId, OutcomeKind | None] = {}  # TASK_REMOVED in this step
        self.rejected: dict[TaskId, RejectionKind | None] = {}  # rejection events in this step
        self.outcomes: dict[TaskId, TaskOutcome] = {}  # Finished in this step
        self.backoffs: dict[TaskId, Event] = {}  # BACKOFF_SCHEDULED in this step
        self.admitting: set[TaskId] = set()  # queued submissions whose admission began
        self.remove_requested: set[TaskId] = set()
        self.expect_remove_requested: set[TaskId] = set()
        self.expect_superseded: TaskId | None = None
        self.expect_submit: RejectionKind | None = None
        self.expect_aborted: set[TaskId] = set()
        self.overflows: list[int] = []  # subscribers owed a SUBSCRIBER_OVERFLOW event
        self.panic_reports = 0  # SUBSCRIBER_PANICKED events in this step
        self.escalated: Escalate | None = None  # the core shut itself down in this step
        self.expect_escalation: str | None = None  # ...as the crash-loop rules require
        self.done_event: EventKind | None = None
        self.shutdown_done = False
