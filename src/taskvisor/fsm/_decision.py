"""Explained decisions: every pause the core schedules, and why (docs/spec/api.md section 8).

Owns: ``Decision`` (carried by ``BACKOFF_SCHEDULED`` and by a task's final events as
``Event.decision``), the names of the rules that decide (``RULE_*``), and the pure functions
that compute a pause and its decision from drawn values: ``failure_pause`` (backoff, or the
failure's own ``Retry-After``), ``success_pause`` (``always(interval, jitter)``), ``start_pause``
(``TaskSpec(start_jitter=...)``) and ``final_decision``. Like ``_backoff`` they take a draw
``u`` in [0, 1], not a generator, so Hypothesis and CrossHair check them as plain arithmetic.
Must not import anything that does I/O.
"""

from __future__ import annotations

from typing import NamedTuple

from taskvisor.fsm._backoff import RetryStreak, base_ns, retry_pause_ns, scale
from taskvisor.fsm._duration import NS_PER_S, ns_to_s
from taskvisor.fsm._events import BackoffSource, typed_eq
from taskvisor.fsm._policy import BackoffPolicy, JitterPolicy, RestartPolicy

__all__ = [
    "RULE_BACKOFF",
    "RULE_BUDGET",
    "RULE_COMPLETED",
    "RULE_FATAL",
    "RULE_GAVE_UP",
    "RULE_INTENSITY",
    "RULE_INTERVAL",
    "RULE_NEVER",
    "RULE_NOT_RETRIED",
    "RULE_RESET",
    "RULE_RETRY_AFTER",
    "RULE_RETRY_LIMIT",
    "RULE_START",
    "RULE_SUPERVISOR_INTENSITY",
    "Decision",
    "failure_pause",
    "final_decision",
    "interval_delay_ns",
    "start_pause",
    "success_pause",
]

#: The rule that decided, as ``Decision.rule`` names it.
RULE_BACKOFF = "backoff"  # the backoff policy's delay for retry n of the streak
RULE_RETRY_AFTER = "retry-after"  # the failure said when to come back (Fail(retry_after=...))
RULE_BUDGET = "retry budget"  # no token in the task's retry budget: wait for the next one
RULE_START = "start jitter"  # the first attempt waits a uniform delay in [0, start_jitter]
RULE_INTERVAL = "interval"  # always(interval): the pause after a success
RULE_RETRY_LIMIT = "retry limit"  # max_retries used up: the task ends FAILED
RULE_NEVER = "never restarted"  # RestartPolicy.NEVER: the failure ends the task
RULE_COMPLETED = "completed"  # a success ends a task that is not restarted after success
RULE_FATAL = "fatal"  # Fatal: never restarted
# The restart controls' rules (docs/spec/api.md section 8):
RULE_RESET = "healthy-run reset"  # the attempt ran reset_after: retry 0 of a new streak
RULE_GAVE_UP = "gave up after"  # the streak is older than give_up_after: ends FAILED
RULE_INTENSITY = "restart intensity"  # the task's intensity would be exceeded: ends FAILED
RULE_SUPERVISOR_INTENSITY = "supervisor restart intensity"  # ... and the supervisor shuts down
RULE_NOT_RETRIED = "not retried"  # an exception outside retry_on: ends FATAL


class Decision(NamedTuple):
    """Why the core scheduled a pause, or ended a task (``Event.decision``).

    Attributes:
        retry: n, the retry index within the failure streak (0 for the first retry of a
            streak, and for pauses that are not retries: start, interval).
        base: the pause before jitter, in seconds: ``base(n)`` of the backoff policy, the
            ``retry_after``, the ``start_jitter`` or the ``interval``.
        jitter: the jitter applied to ``base`` (``FULL`` for the start jitter, ``NONE`` for a
            Retry-After); None for an interval pause with ``always(..., jitter=...)``, which is
            uniform in ``[interval * (1 - jitter), interval * (1 + jitter)]``.
        source: what the pause follows (None on a final event after a success or a Fatal).
        budget_wait: the seconds a retry budget added (only on ``source=BUDGET``).
        rule: the rule that decided (``"backoff"``, ``"retry limit"``, ...).
    """

    retry: int
    base: float
    jitter: JitterPolicy | None
    source: BackoffSource | None
    budget_wait: float = 0.0
    rule: str = ""

    def __eq__(self, other: object) -> bool:
        return typed_eq(self, other)

    def __ne__(self, other: object) -> bool:
        return not typed_eq(self, other)

    def __hash__(self) -> int:
        return tuple.__hash__(self)


_new = tuple.__new__  # one C call per decision (this runs for every BACKOFF_SCHEDULED)
_FAILURE = BackoffSource.FAILURE
_NONE = JitterPolicy.NONE


def failure_pause(
    backoff: BackoffPolicy, streak: RetryStreak, u: float, retry_after_ns: int | None = None
) -> tuple[int, RetryStreak, Decision]:
    """The pause after one more failure of ``streak``, the new streak, and why.

    Without ``retry_after_ns``: the backoff policy's delay for retry n (``next_delay_ns``).
    With it: exactly that delay (no jitter, not capped by ``max``), raised to ``floor``; the
    failure still counts in the streak (``max_retries``), and DECORRELATED keeps its memory.
    """
    n = streak.failures
    if retry_after_ns is None:
        delay, streak, base = retry_pause_ns(backoff, streak, u)
        return (
            delay,
            streak,
            _new(Decision, (n, base / NS_PER_S, backoff.jitter, _FAILURE, 0.0, RULE_BACKOFF)),
        )
    floor = backoff.floor_ns
    delay = retry_after_ns if retry_after_ns > floor else floor
    decision = _new(
        Decision,
        (n, ns_to_s(retry_after_ns), _NONE, BackoffSource.RETRY_AFTER, 0.0, RULE_RETRY_AFTER),
    )
    return delay, RetryStreak(n + 1, streak.prev_ns), decision


def interval_delay_ns(interval_ns: int, spread_ns: int, u: float) -> int:
    """The pause after a success: uniform in ``[interval - spread, interval + spread]``.

    pre: 0 <= spread_ns <= interval_ns
    pre: 0.0 <= u <= 1.0
    post: interval_ns - spread_ns <= __return__ <= interval_ns + spread_ns
    post: spread_ns != 0 or __return__ == interval_ns
    """
    return interval_ns - spread_ns + scale(2 * spread_ns, u)


def success_pause(restart: RestartPolicy, u: float) -> tuple[int, Decision]:
    """The pause of ``always(interval, jitter)`` after a success, and why."""
    spread = restart.spread_ns
    delay = interval_delay_ns(restart.interval_ns, spread, u)
    jitter = _NONE if spread == 0 else None
    base = ns_to_s(restart.interval_ns)
    return delay, _new(Decision, (0, base, jitter, BackoffSource.SUCCESS, 0.0, RULE_INTERVAL))


def start_pause(start_jitter_ns: int, u: float) -> tuple[int, Decision]:
    """The pause before a task's first attempt: uniform in ``[0, start_jitter]``, and why."""
    decision = _new(
        Decision,
        (0, ns_to_s(start_jitter_ns), JitterPolicy.FULL, BackoffSource.START, 0.0, RULE_START),
    )
    return scale(start_jitter_ns, u), decision


def final_decision(
    backoff: BackoffPolicy, failures: int, rule: str, source: BackoffSource | None = _FAILURE
) -> Decision:
    """Why a task ends: ``rule``, at retry ``failures - 1`` of its streak (0 after a success).

    ``base`` is what the backoff would have been for that retry.
    """
    n = failures - 1 if failures > 0 else 0
    return _new(Decision, (n, ns_to_s(base_ns(backoff, n)), backoff.jitter, source, 0.0, rule))
