"""Which event feeds which instrument: the one reading of events shared by every metrics backend.

Owns: ``Instruments`` (what a backend records: an event of a kind, a restart, a change in live
tasks, an attempt's duration, a backoff delay, a subscriber overflow), ``observe`` (the event ->
instrument table below), ``require`` (the one-line ``ImportError`` naming the extra to install),
and the bucket bounds both backends use. Must not import a monitoring library, the driver or
the event bus: backends (``prometheus``, ``otel``) import it.

=================================  ===========================================================
instrument                         fed by
=================================  ===========================================================
events (by ``kind``)               every event
task restarts (by ``task``)        ``TASK_STARTING`` with ``attempt`` > 1: every attempt after
                                   the first, after a failure or (``always``) a success
live tasks                         +1 on ``TASK_ADDED``, -1 on ``TASK_REMOVED``
attempt duration (seconds)         ``Event.duration`` of ``TASK_STOPPED``, ``TASK_FAILED`` and
                                   ``TASK_CANCELED`` (an attempt abandoned after force has none)
backoff delay (seconds)            ``Event.delay`` of ``BACKOFF_SCHEDULED``
subscriber overflows               ``SUBSCRIBER_OVERFLOW`` (by ``subscriber``): one per overflow
                                   *episode*, i.e. per run of drops, not per dropped event
=================================  ===========================================================

Events are best-effort (docs/spec/api.md section 5): a backend whose own queue overflows misses
events,
and its live-task gauge can drift. Exact per-subscriber drop totals are in
``SupervisorHandle.subscriber_stats()``.
"""

from __future__ import annotations

from typing import Protocol

from taskvisor.fsm import Event, EventKind

__all__ = ["ATTEMPT_ENDS", "DELAY_BUCKETS", "DURATION_BUCKETS", "Instruments", "observe", "require"]

EK = EventKind

#: The events that end an attempt and carry its duration.
ATTEMPT_ENDS = frozenset({EK.TASK_STOPPED, EK.TASK_FAILED, EK.TASK_CANCELED})

#: Attempt durations: from a failed connect (ms) to a worker that runs for a day.
DURATION_BUCKETS = (
    0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0, 86400.0,
)  # fmt: skip
#: Backoff delays: from an immediate retry to the longest sensible cap.
DELAY_BUCKETS = (0.0, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


class Instruments(Protocol):
    """What a metrics backend records (each method is one instrument)."""

    def event(self, kind: str) -> None: ...
    def restart(self, task: str) -> None: ...
    def live(self, delta: int) -> None: ...
    def attempt_duration(self, seconds: float) -> None: ...
    def backoff_delay(self, seconds: float) -> None: ...
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
