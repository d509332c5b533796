"""``PrometheusSubscriber``: the supervisor's events as Prometheus metrics (extra ``prometheus``).

Owns: the Prometheus metric names, help texts, labels and buckets of docs/spec/api.md section 9, on
``prometheus_client``. Which event feeds which metric is ``_instruments.observe``'s (shared with
OpenTelemetry). Must not import the driver or the event bus; ``import taskvisor`` must never
import this module (it imports ``prometheus_client``).

=========================================  =========  =========================================
metric                                     type       labels
=========================================  =========  =========================================
``taskvisor_events_total``                 counter    ``kind`` (an ``EventKind`` name)
``taskvisor_task_restarts_total``          counter    ``task`` (unless ``task_label=False``)
``taskvisor_tasks_live``                   gauge      -
``taskvisor_attempt_duration_seconds``     histogram  -
``taskvisor_backoff_delay_seconds``        histogram  -
``taskvisor_retry_budget_waits_total``     counter    ``task`` (unless ``task_label=False``)
``taskvisor_retry_budget_wait_seconds``    histogram  -
``taskvisor_subscriber_dropped_total``     counter    ``subscriber``
=========================================  =========  =========================================

``taskvisor_backoff_delay_seconds`` observes every ``BACKOFF_SCHEDULED``, a retry-budget wait
included: a restart that waits for a token is two observations. ``taskvisor_retry_budget_*``
show a shared budget throttling restarts: one wait per restart that found its budget empty, and
how many seconds the budget added to it.

``taskvisor_subscriber_dropped_total`` counts ``SUBSCRIBER_OVERFLOW`` reports: one per overflow
episode (a run of drops while the subscriber's queue stays full), so it rises when a subscriber
starts falling behind; the exact number of dropped events is in
``SupervisorHandle.subscriber_stats()``.

Label cardinality: every distinct ``task`` value is one more time series, kept by the registry
for the life of the process. Fine for a fixed set of named workers; for tasks with dynamic names
(one per job, tenant, request) pass ``task_label=False``.
"""

from __future__ import annotations

from taskvisor.contrib._instruments import DELAY_BUCKETS, DURATION_BUCKETS, observe, require
from taskvisor.fsm import Event

try:
    import prometheus_client
except ImportError as exc:  # pragma: no cover - tested in a subprocess without the extra
    raise require("prometheus", "prometheus", "prometheus_client") from exc

__all__ = ["PrometheusSubscriber"]


class PrometheusSubscriber:
    """Records every event in Prometheus metrics (the table in the module docstring).

    A plain subscriber: the event bus calls it from a worker thread (``prometheus_client`` is
    thread-safe), so a scrape never waits on the supervisor nor the other way round. Serve the
    registry as usual (``prometheus_client.generate_latest(registry)``, ``start_http_server``).

    Args:
        registry: where the metrics are registered (default: ``prometheus_client.REGISTRY``;
            a registry holds each metric name once, so give each supervisor its own registry,
            or one subscriber shared by all of them).
        task_label: False drops the per-task label from ``taskvisor_task_restarts_total`` and
            ``taskvisor_retry_budget_waits_total`` (for fleets of dynamically named tasks:
            every label value is a time series).
        name: the subscriber's name in diagnostics.
        queue_capacity: its event queue's capacity.
    """

    def __init__(
        self,
        registry: prometheus_client.CollectorRegistry | None = None,
        *,
        task_label: bool = True,
        name: str = "prometheus",
        queue_capacity: int = 1024,
    ) -> None:
        reg = prometheus_client.REGISTRY if registry is None else registry
        self.registry = reg
        self.task_label = task_label
        self.name = name
        self.queue_capacity = queue_capacity
        self.events_total = prometheus_client.Counter(
            "taskvisor_events_total",
            "Events published by the supervisor, by kind.",
            ["kind"],
            registry=reg,
        )
        self.restarts_total = prometheus_client.Counter(
            "taskvisor_task_restarts_total",
            "Attempts started after a task's first (after a failure, or an always() interval).",
            ["task"] if task_label else [],
            registry=reg,
        )
        self.tasks_live = prometheus_client.Gauge(
            "taskvisor_tasks_live",
            "Tasks registered and not yet removed (TASK_ADDED minus TASK_REMOVED).",
            registry=reg,
        )
        self.attempt_duration_seconds = prometheus_client.Histogram(
            "taskvisor_attempt_duration_seconds",
            "How long each attempt ran until it stopped, failed or was canceled.",
            buckets=DURATION_BUCKETS,
            registry=reg,
        )
        self.backoff_delay_seconds = prometheus_client.Histogram(
            "taskvisor_backoff_delay_seconds",
            "Every pause scheduled by BACKOFF_SCHEDULED: before a restart, a first start "
            "(start jitter), and a retry-budget wait (also in taskvisor_retry_budget_wait_*).",
            buckets=DELAY_BUCKETS,
            registry=reg,
        )
        self.retry_budget_waits_total = prometheus_client.Counter(
            "taskvisor_retry_budget_waits_total",
            "Restarts that found their retry budget empty and wait for its next token.",
            ["task"] if task_label else [],
            registry=reg,
        )
        self.retry_budget_wait_seconds = prometheus_client.Histogram(
            "taskvisor_retry_budget_wait_seconds",
            "The seconds a retry budget added to each restart it had no token for.",
            buckets=DELAY_BUCKETS,
            registry=reg,
        )
        self.subscriber_dropped_total = prometheus_client.Counter(
            "taskvisor_subscriber_dropped_total",
            "Subscriber overflow episodes (SUBSCRIBER_OVERFLOW reports: each is a run of "
            "dropped events); exact drop totals are in subscriber_stats().",
            ["subscriber"],
            registry=reg,
        )

    def on_event(self, event: Event) -> None:
        """Record ``event`` (called by the event bus)."""
        observe(event, self)

    # -- the instruments (_instruments.Instruments) ----------------------------------------------

    def event(self, kind: str) -> None:
        self.events_total.labels(kind).inc()

    def restart(self, task: str) -> None:
        if self.task_label:
            self.restarts_total.labels(task).inc()
        else:
            self.restarts_total.inc()

    def live(self, delta: int) -> None:
        self.tasks_live.inc(delta)

    def attempt_duration(self, seconds: float) -> None:
        self.attempt_duration_seconds.observe(seconds)

    def backoff_delay(self, seconds: float) -> None:
        self.backoff_delay_seconds.observe(seconds)

    def budget_wait(self, task: str) -> None:
        if self.task_label:
            self.retry_budget_waits_total.labels(task).inc()
        else:
            self.retry_budget_waits_total.inc()

    def budget_wait_time(self, seconds: float) -> None:
        self.retry_budget_wait_seconds.observe(seconds)

    def overflow(self, subscriber: str) -> None:
        self.subscriber_dropped_total.labels(subscriber).inc()

    def __repr__(self) -> str:
        return f"PrometheusSubscriber(task_label={self.task_label}, name={self.name!r})"
