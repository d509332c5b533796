"""``OpenTelemetrySubscriber``: metrics and one span per attempt, on OpenTelemetry (extra ``otel``).

Owns: the OpenTelemetry instrument names and the attempt spans of docs/spec/api.md section 9, on the
``opentelemetry-api`` package only (the SDK, exporters and readers are the application's).
Which event feeds which instrument is ``_instruments.observe``'s (shared with Prometheus). Must
not import the driver or the event bus; ``import taskvisor`` must never import this module.

Instruments (meter ``taskvisor``); through OpenTelemetry's Prometheus exporter they come out
under the names ``PrometheusSubscriber`` uses:

===============================  ==============  ======  ================  ======================
instrument                       kind            unit    attributes        Prometheus name
===============================  ==============  ======  ================  ======================
``taskvisor.events``             Counter         -       ``kind``          taskvisor_events_total
``taskvisor.task.restarts``      Counter         -       ``task``          ..._task_restarts_total
``taskvisor.tasks.live``         UpDownCounter   -       -                 taskvisor_tasks_live
``taskvisor.attempt.duration``   Histogram       ``s``   -                 ..._duration_seconds
``taskvisor.backoff.delay``      Histogram       ``s``   -                 ..._delay_seconds
``taskvisor.retry_budget.waits`` Counter         -       ``task``          ..._waits_total
``taskvisor.retry_budget.wait``  Histogram       ``s``   -                 ..._wait_seconds
``taskvisor.subscriber.dropped`` Counter         -       ``subscriber``    ..._dropped_total
===============================  ==============  ======  ================  ======================

Spans (tracer ``taskvisor``): one ``taskvisor.attempt`` span per attempt, a root span (an attempt
is its own trace), from ``TASK_STARTING`` to the event that ends the attempt (``TASK_STOPPED``,
``TASK_FAILED``, ``TASK_CANCELED``; ``TASK_REMOVED`` for an attempt abandoned after force), with
attributes ``taskvisor.task``, ``taskvisor.attempt``, ``taskvisor.task_id`` and
``taskvisor.end`` (the kind of the ending event), a ``taskvisor.timeout`` span event at
``TIMEOUT_HIT``, and status ERROR (described by the reason) on a failure or a forced abort.
Span times are the events' own times (``Event.at``, the supervisor's clock) moved onto the wall
clock by one offset taken at the first event, so a span lasts exactly the attempt's
``Event.duration`` however late the subscriber's worker thread gets to it. The spans are built
from events after the fact: a task body's own spans are not their children.
"""

from __future__ import annotations

import time

from taskvisor import __version__
from taskvisor.contrib._instruments import (
    ATTEMPT_ENDS,
    DELAY_BUCKETS,
    DURATION_BUCKETS,
    observe,
    require,
)
from taskvisor.fsm import Event, EventKind, OutcomeKind, TaskId

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics, trace
except ImportError as exc:  # pragma: no cover - tested in a subprocess without the extra
    raise require("otel", "otel", "opentelemetry-api") from exc

__all__ = ["OpenTelemetrySubscriber"]

EK = EventKind
_NS = 1_000_000_000


class OpenTelemetrySubscriber:
    """Records every event as OpenTelemetry metrics, and each attempt as a span.

    A plain subscriber: the event bus calls it from a worker thread, one call at a time.

    Args:
        meter_provider: where the instruments come from (default: the global one, set by the
            application's SDK setup; without one the API's no-op provider records nothing).
        tracer_provider: where the spans go (default: the global one).
        task_label: False drops the ``task`` attribute from ``taskvisor.task.restarts`` and
            ``taskvisor.retry_budget.waits`` (for fleets of dynamically named tasks).
        name: the subscriber's name in diagnostics.
        queue_capacity: its event queue's capacity.
    """

    def __init__(
        self,
        meter_provider: metrics.MeterProvider | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        *,
        task_label: bool = True,
        name: str = "otel",
        queue_capacity: int = 1024,
    ) -> None:
        meters = metrics.get_meter_provider() if meter_provider is None else meter_provider
        tracers = trace.get_tracer_provider() if tracer_provider is None else tracer_provider
        meter = meters.get_meter("taskvisor", __version__)
        self.tracer = tracers.get_tracer("taskvisor", __version__)
        self.task_label = task_label
        self.name = name
        self.queue_capacity = queue_capacity
        self.events_counter = meter.create_counter(
            "taskvisor.events", description="Events published by the supervisor, by kind."
        )
        self.restarts_counter = meter.create_counter(
            "taskvisor.task.restarts",
            description="Attempts started after a task's first (after a failure, or an "
            "always() interval).",
        )
        self.live_counter = meter.create_up_down_counter(
            "taskvisor.tasks.live",
            description="Tasks registered and not yet removed (TASK_ADDED minus TASK_REMOVED).",
        )
        self.duration_histogram = meter.create_histogram(
            "taskvisor.attempt.duration",
            unit="s",
            description="How long each attempt ran until it stopped, failed or was canceled.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.delay_histogram = meter.create_histogram(
            "taskvisor.backoff.delay",
            unit="s",
            description="Every pause scheduled by BACKOFF_SCHEDULED: before a restart, a first "
            "start (start jitter), and a retry-budget wait (also in taskvisor.retry_budget.wait).",
            explicit_bucket_boundaries_advisory=DELAY_BUCKETS,
        )
        self.budget_waits_counter = meter.create_counter(
            "taskvisor.retry_budget.waits",
            description="Restarts that found their retry budget empty and wait for its next token.",
        )
        self.budget_wait_histogram = meter.create_histogram(
            "taskvisor.retry_budget.wait",
            unit="s",
            description="The seconds a retry budget added to each restart it had no token for.",
            explicit_bucket_boundaries_advisory=DELAY_BUCKETS,
        )
        self.dropped_counter = meter.create_counter(
            "taskvisor.subscriber.dropped",
            description="Subscriber overflow episodes (SUBSCRIBER_OVERFLOW reports: each is a "
            "run of dropped events); exact drop totals are in subscriber_stats().",
        )
        # The running attempt's number and span, by task.
        self._open: dict[TaskId | None, tuple[int | None, trace.Span]] = {}
        self._offset_ns: int | None = None  # wall clock minus the supervisor's clock
        self._root = otel_context.Context()  # no parent: each attempt is its own trace

    def on_event(self, event: Event) -> None:
        """Record ``event`` (called by the event bus)."""
        observe(event, self)
        kind = event.kind
        if kind is EK.TASK_STARTING:
            self._start(event)
        elif kind in ATTEMPT_ENDS:
            self._end(event)
        elif kind is EK.TIMEOUT_HIT:
            _, span = self._open.get(event.task_id, (None, None))
            if span is not None:
                span.add_event(
                    "taskvisor.timeout",
                    {"taskvisor.timeout": event.timeout or 0.0},
                    timestamp=self._wall_ns(event.at),
                )
        elif kind is EK.TASK_REMOVED and event.task_id in self._open:
            self._end(event)  # abandoned after force: no attempt-ending event came

    # -- spans ---------------------------------------------------------------------------------

    def _wall_ns(self, at: float) -> int:
        at_ns = round(at * _NS)
        if self._offset_ns is None:
            self._offset_ns = time.time_ns() - at_ns
        return at_ns + self._offset_ns

    def _start(self, event: Event, start_ns: int | None = None) -> trace.Span:
        start = self._wall_ns(event.at) if start_ns is None else start_ns
        self._end_stale(event.task_id, start)
        span = self.tracer.start_span(
            "taskvisor.attempt",
            context=self._root,
            attributes={
                "taskvisor.task": event.task or "",
                "taskvisor.attempt": event.attempt or 0,
                "taskvisor.task_id": event.task_id.value if event.task_id is not None else 0,
            },
            start_time=start,
        )
        self._open[event.task_id] = (event.attempt, span)
        return span

    def _end_stale(self, task_id: TaskId | None, at_ns: int) -> None:
        """An open span whose ending event was dropped: it ended by ``at_ns`` at the latest."""
        _, stale = self._open.pop(task_id, (None, None))
        if stale is not None:
            stale.set_attribute("taskvisor.end", "UNKNOWN")
            stale.end(end_time=at_ns)

    def _end(self, event: Event) -> None:
        end = self._wall_ns(event.at)
        attempt, span = self._open.get(event.task_id, (None, None))
        if span is not None and event.attempt is not None and attempt != event.attempt:
            # A later attempt's end (the ends and starts between were dropped).
            self._end_stale(event.task_id, end - round((event.duration or 0.0) * _NS))
            span = None
        self._open.pop(event.task_id, None)
        if span is None:
            # Its TASK_STARTING was dropped: the ending event says when the attempt began.
            if event.duration is None:
                return
            span = self._start(event, end - round(event.duration * _NS))
            del self._open[event.task_id]
        span.set_attribute("taskvisor.end", event.kind.name)
        failed = event.kind is EK.TASK_FAILED
        if failed or event.outcome is OutcomeKind.FORCE_ABORTED:
            why = event.reason or (event.outcome.name if event.outcome is not None else "")
            span.set_status(trace.Status(trace.StatusCode.ERROR, why))
        span.end(end_time=end)

    # -- the instruments (_instruments.Instruments) ----------------------------------------------

    def event(self, kind: str) -> None:
        self.events_counter.add(1, {"kind": kind})

    def restart(self, task: str) -> None:
        self.restarts_counter.add(1, {"task": task} if self.task_label else None)

    def live(self, delta: int) -> None:
        self.live_counter.add(delta)

    def attempt_duration(self, seconds: float) -> None:
        self.duration_histogram.record(seconds)

    def backoff_delay(self, seconds: float) -> None:
        self.delay_histogram.record(seconds)

    def budget_wait(self, task: str) -> None:
        self.budget_waits_counter.add(1, {"task": task} if self.task_label else None)

    def budget_wait_time(self, seconds: float) -> None:
        self.budget_wait_histogram.record(seconds)

    def overflow(self, subscriber: str) -> None:
        self.dropped_counter.add(1, {"subscriber": subscriber})

    def __repr__(self) -> str:
        return f"OpenTelemetrySubscriber(task_label={self.task_label}, name={self.name!r})"
