"""Per-attempt cost of each shipped subscriber, next to a counting subscriber.

The per-attempt workload of ``bench_attempts`` (200 tasks, each failing 20 times then
succeeding, ``BackoffPolicy.constant(0)``: 4,200 attempts, about 3 events each) under one
``Supervisor.run`` on asyncio, with exactly one subscriber per run:

- ``counting``: a plain ``on_event`` that adds one (the baseline every row is divided by);
- ``LogSubscriber``: at its levels (failures are WARNING), into a ``logging.StreamHandler`` on an
  in-memory stream with a ``%(levelname)s %(name)s: %(message)s`` formatter, and the same with a
  JSON formatter reading the ``taskvisor_*`` fields (docs/recipes.md);
- ``PrometheusSubscriber`` on a fresh registry, with and without the task label;
- ``OpenTelemetrySubscriber`` on the SDK (an in-memory metric reader; spans through a
  ``SimpleSpanProcessor`` into an in-memory exporter), and on the API's no-op providers (what it
  costs when the application configured no SDK).

Every subscriber gets a queue large enough to take every event, and the drain at the end may
take as long as it needs, so each run delivers every event (checked with
``subscriber_stats()``): a subscriber too slow to keep up cannot look cheap by dropping.
The figure is CPU time (``time.process_time``: the loop thread and the subscriber's worker
thread together) per attempt, best of ``ROUNDS`` interleaved rounds; wall time is reported too.

Run: ``python -m benchmarks.bench_subscribers``.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from typing import Any

import prometheus_client
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import taskvisor as tv
from benchmarks._common import (
    Section,
    Stopwatch,
    Timing,
    interleaved,
    log,
    markdown,
    on,
    timing_row,
)
from benchmarks.bench_attempts import ATTEMPTS, FAILURES, N_TASKS, Counting, _specs
from taskvisor.contrib.otel import OpenTelemetrySubscriber
from taskvisor.contrib.prometheus import PrometheusSubscriber

ROUNDS = 3
CAPACITY = 1_000_000  # room for every event of a run: nothing is dropped


class _JsonFormatter(logging.Formatter):
    """docs/recipes.md's stdlib JSON formatter."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {"level": record.levelname, "message": record.getMessage()}
        doc.update((k, v) for k, v in vars(record).items() if k.startswith("taskvisor_"))
        return json.dumps(doc)


def _logger(formatter: logging.Formatter) -> logging.Logger:
    logger = logging.getLogger(f"bench.subscribers.{id(formatter)}")
    logger.handlers.clear()
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def _counting() -> object:
    sub = Counting()
    sub.queue_capacity = CAPACITY  # type: ignore[attr-defined]
    return sub


def _log_text() -> object:
    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    return tv.LogSubscriber(_logger(formatter), queue_capacity=CAPACITY)


def _log_json() -> object:
    return tv.LogSubscriber(_logger(_JsonFormatter()), queue_capacity=CAPACITY)


def _prometheus(task_label: bool) -> Callable[[], object]:
    def make() -> object:
        registry = prometheus_client.CollectorRegistry()
        return PrometheusSubscriber(registry, task_label=task_label, queue_capacity=CAPACITY)

    return make


def _otel_sdk() -> object:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return OpenTelemetrySubscriber(meter_provider, tracer_provider, queue_capacity=CAPACITY)


def _otel_noop() -> object:
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import NoOpTracerProvider

    return OpenTelemetrySubscriber(
        NoOpMeterProvider(), NoOpTracerProvider(), queue_capacity=CAPACITY
    )


#: (key, label, factory); None: no subscriber at all.
CASES: list[tuple[str, str, Callable[[], object] | None]] = [
    ("none", "no subscriber", None),
    ("counting", "counting subscriber (baseline)", _counting),
    ("log", "LogSubscriber, text formatter", _log_text),
    ("log_json", "LogSubscriber, JSON formatter", _log_json),
    ("prometheus", "PrometheusSubscriber", _prometheus(True)),
    ("prometheus_nolabel", "PrometheusSubscriber(task_label=False)", _prometheus(False)),
    ("otel_sdk", "OpenTelemetrySubscriber, SDK (metrics + spans)", _otel_sdk),
    ("otel_noop", "OpenTelemetrySubscriber, no-op providers", _otel_noop),
]


async def _run(make: Callable[[], object] | None) -> Any:
    subs = [] if make is None else [make()]
    config = tv.SupervisorConfig(seed=0, subscriber_shutdown_timeout=600)
    sup = tv.Supervisor(config, subscribers=subs)
    specs = _specs()
    sw = Stopwatch()
    async with sup.serve(signals=False) as h:
        watches = [await h.add_and_watch(spec) for spec in specs]
        for _, waiter in watches:
            await waiter.wait()
    timed = sw.stop()
    stats = h.subscriber_stats()
    if any(s.dropped or s.panicked for s in stats):
        raise AssertionError(f"a subscriber dropped or panicked: {stats}")
    info = {"delivered": stats[0].delivered if stats else None}
    return type(timed)(timed.wall, timed.cpu, info)


def measure() -> Section:
    section = Section(
        "subscribers",
        f"Per-attempt cost of each subscriber ({N_TASKS} tasks x {FAILURES} failures + 1 "
        "success, asyncio)",
    )
    per = 1e6 / ATTEMPTS
    log("  subscribers: asyncio")
    t: dict[str, Timing] = interleaved(
        {key: on("asyncio", _run, make) for key, _, make in CASES}, ROUNDS
    )
    base = t["counting"]
    data: dict[str, Any] = {"attempts": ATTEMPTS, "rounds": ROUNDS}
    for key, label, _ in CASES:
        timing = t[key]
        data[key] = {
            "cpu_us_per_attempt": timing.cpu * per,
            "wall_us_per_attempt": timing.wall * per,
            "cpu_ratio_vs_counting": timing.cpu / base.cpu,
            "info": timing.result,
        }
        if key == "counting":
            continue
        section.rows.append(
            timing_row(label, timing, base, per, "µs/attempt", "counting subscriber")
        )
    delivered = data["counting"]["info"]["delivered"]
    section.notes += [
        f"µs per attempt: wall time of the whole run / {ATTEMPTS:,} attempts; 'ratio (CPU)' "
        "compares process_time (the loop thread and the subscriber's worker thread together), "
        "the figure to read: on two cores the worker thread runs beside the loop, so wall time "
        f"hides part of a subscriber's cost. Best of {ROUNDS} interleaved rounds.",
        f"Each run delivers all {delivered:,} events (about {delivered / ATTEMPTS:.1f} per "
        "attempt) to its one subscriber, none dropped (checked with subscriber_stats()).",
    ]
    section.data = data
    return section


def main() -> None:
    print(markdown(measure()))


if __name__ == "__main__":
    main()
