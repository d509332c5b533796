"""Which event feeds which instrument: the one reading of events shared by every metrics backend.

Owns: ``Instruments`` (what a backend records: an event of a kind, a restart, a change in live
tasks, an attempt's duration, a backoff delay, a retry-budget wait and its length, a subscriber
overflow), ``observe`` (the event -> instrument table below), ``require`` (the one-line
``ImportError`` naming the extra to install), and the bucket bounds both backends use. Must not
import a monitoring library, the driver or the event bus: backends (``prometheus``, ``otel``)
import it.

=================================  ===========================================================
instrument                         fed by
=================================  ===========================================================
events (by ``kind``)               every event
task restarts (by ``task``)        ``TASK_STARTING`` with ``attempt`` > 1: every attempt after
                                   the first, after a failure or (``always``) a success
live tasks                         +1 on ``TASK_ADDED``, -1 on ``TASK_REMOVED``
attempt duration (seconds)         ``Event.duration`` of ``TASK_STOPPED``, ``TASK_FAILED`` and
                                   ``TASK_CANCELED`` (an attempt abandoned after force has none)
backoff delay (seconds)            ``Event.delay`` of *every* ``BACKOFF_SCHEDULED``, whatever
                                   its ``backoff_source``: a restart's backoff (``FAILURE``,
                                   ``RETRY_AFTER``), an ``always`` pause (``SUCCESS``), a first
                                   start's jitter (``START``) and a retry-budget wait
                                   (``BUDGET``). A restart that waits for a token is two
                                   observations, its backoff then the wait: the count is of
                                   pauses scheduled, not of restarts; the sum is their total
retry-budget waits (by ``task``)   ``BACKOFF_SCHEDULED`` with ``backoff_source`` ``BUDGET``: one
                                   per restart that found its retry budget empty and waits for
                                   the next token (docs/crash-loops.md, "Shared retry budgets")
retry-budget wait (seconds)        ``Event.decision.budget_wait`` of those events: the seconds
                                   the budget added to the restart's backoff (equal to their
                                   ``delay``, so these waits are in the backoff delay too)
subscriber overflows               ``SUBSCRIBER_OVERFLOW`` (by ``subscriber``): one per overflow
                                   *episode*, i.e. per run of drops, not per dropped event
=================================  ===========================================================

Events are best-effort (docs/spec/api.md section 5): a backend whose own queue overflows misses
events, and its live-task gauge can drift. Exact per-subscriber drop totals are in
``SupervisorHandle.subscriber_stats()``.
"""

from __future__ import annotations

from typing import Protocol

from taskvisor.fsm import BackoffSource, Event, EventKind

__all__ = ["ATTEMPT_ENDS", "DELAY_BUCKETS", "DURATION_BUCKETS", "Instruments", "observe", "require"]

EK = EventKind

#: The events that end an attempt and carry its duration.
ATTEMPT_ENDS = frozenset({EK.TASK_STOPPED, EK.TASK_FAILED, EK.TASK_CANCELED})

#: Attempt durations: from a failed connect (ms) to a worker that runs for a day.
DURATION_BUCKETS = (
    0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0, 86400.0,
)  # fmt: skip
#: Backoff delays: from an immediate retry to the longest sensible cap. Retry-budget waits use
#: them too (a wait is a token's refill time times the restarts queued ahead, from a few ms to
#: minutes), so the two histograms' buckets line up.
DELAY_BUCKETS = (0.0, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


class Instruments(Protocol):
    """What a metrics backend records (each method is one instrument)."""

    def event(self, kind: str) -> None: ...
    def restart(self, task: str) -> None: ...
    def live(self, delta: int) -> None: ...
    def attempt_duration(self, seconds: float) -> None: ...
    def backoff_delay(self, seconds: float) -> None: ...
    def budget_wait(self, task: str) -> None: ...
    def budget_wait_time(self, seconds: float) -> None: ...
    def overflow(self, subscriber: str) -> None: ...


def observe(event: Event, into: Instruments) -> None:
    """Record ``event`` in the instruments it feeds (the table in the module docstring)."""
    kind = event.kind
    into.event(kind.name)
    if kind is EK.TASK_STARTING:
        if event.attempt is not None and event.attempt > 1:
            into.restart(event.task or "")
    elif kind in ATTEMPT_ENDS:
        if event.duration is not None:
            into.attempt_duration(event.duration)
    elif kind is EK.BACKOFF_SCHEDULED:
        if event.delay is not None:
            into.backoff_delay(event.delay)
        if event.backoff_source is BackoffSource.BUDGET:
            into.budget_wait(event.task or "")
            if event.decision is not None:
                into.budget_wait_time(event.decision.budget_wait)
    elif kind is EK.TASK_ADDED:
        into.live(1)
    elif kind is EK.TASK_REMOVED:
        into.live(-1)
    elif kind is EK.SUBSCRIBER_OVERFLOW:
        into.overflow(event.task or "")


def require(module: str, extra: str, package: str) -> ImportError:
    """The one-line error for a missing extra (raise it ``from`` the original ImportError)."""
    return ImportError(
        f"taskvisor.contrib.{module} needs {package}: pip install 'taskvisor[{extra}]'"
    )
