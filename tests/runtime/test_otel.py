"""OpenTelemetrySubscriber against the real SDK: in-memory metric reader and span exporter.

Each test runs a real supervisor (asyncio and trio) with the subscriber, then reads what the
SDK collected (docs/spec/api.md section 9). The retry-budget tests run on virtual time, with the
subscriber's ``on_event`` called on the loop (``runtime_support.OnTheLoop``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from runtime_support import BUDGET_TASKS, VIRTUAL_RUNNERS, budget_run, budget_waits

import taskvisor as tv
from taskvisor.contrib.otel import OpenTelemetrySubscriber

pytestmark = pytest.mark.anyio

BACKOFF = tv.BackoffPolicy.constant(0.01)


class Otel:
    """An SDK set up in memory, and the subscriber that writes to it."""

    def __init__(self, **kw: Any) -> None:
        self.reader = InMemoryMetricReader()
        self.exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.sub = OpenTelemetrySubscriber(
            MeterProvider(metric_readers=[self.reader]), tracer_provider, **kw
        )

    def spans(self, task: str | None = None) -> list[ReadableSpan]:
        spans = [
            s
            for s in self.exporter.get_finished_spans()
            if task is None or (s.attributes or {}).get("taskvisor.task") == task
        ]
        return sorted(spans, key=lambda s: s.start_time or 0)

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        assert data is not None
        return [
            point
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]

    def value(self, name: str, **attributes: str) -> Any:
        found = [p for p in self.points(name) if dict(p.attributes or {}) == attributes]
        assert len(found) <= 1
        return found[0].value if found else None


def _flaky(failures: int) -> Callable[[tv.TaskContext], object]:
    async def body(ctx: tv.TaskContext) -> None:
        if ctx.attempt <= failures:
            raise tv.Fail(f"boom {ctx.attempt}")

    return body


async def _run(otel: Otel) -> None:
    specs = [
        tv.TaskSpec.restartable(tv.TaskFn("flaky", _flaky(2)), backoff=BACKOFF),
        tv.TaskSpec.once(tv.TaskFn("steady", _flaky(0))),
    ]
    out = await tv.Supervisor(subscribers=[otel.sub]).run(specs)
    assert {o.kind for o in out.values()} == {tv.OutcomeKind.COMPLETED}


class Durations:
    """A second subscriber: the ``duration`` of every attempt-ending event, by task."""

    def __init__(self) -> None:
        self.by_task: dict[str | None, list[float]] = {}

    def on_event(self, ev: tv.Event) -> None:
        if ev.duration is not None:
            self.by_task.setdefault(ev.task, []).append(ev.duration)


async def test_one_span_per_attempt_with_its_outcome_and_duration() -> None:
    otel = Otel()
    durations = Durations()
    specs = [tv.TaskSpec.restartable(tv.TaskFn("flaky", _flaky(2)), backoff=BACKOFF)]
    await tv.Supervisor(subscribers=[otel.sub, durations]).run(specs)
    spans = otel.spans("flaky")
    assert [s.name for s in spans] == ["taskvisor.attempt"] * 3
    assert [dict(s.attributes or {})["taskvisor.attempt"] for s in spans] == [1, 2, 3]
    assert [dict(s.attributes or {})["taskvisor.end"] for s in spans] == [
        "TASK_FAILED",
        "TASK_FAILED",
        "TASK_STOPPED",
    ]
    assert [(s.status.status_code, s.status.description) for s in spans] == [
        (StatusCode.ERROR, "boom 1"),
        (StatusCode.ERROR, "boom 2"),
        (StatusCode.UNSET, None),
    ]
    assert all(s.parent is None for s in spans)  # each attempt is its own trace
    assert len({s.context.trace_id for s in spans if s.context is not None}) == 3
    # Span times are the events' times: each lasts exactly its attempt's duration, and the
    # backoff (10 ms) separates one attempt's end from the next one's start.
    lasted = [((s.end_time or 0) - (s.start_time or 0)) / 1e9 for s in spans]
    assert lasted == pytest.approx(durations.by_task["flaky"], abs=2e-9)
    gaps = [((b.start_time or 0) - (a.end_time or 0)) / 1e9 for a, b in itertools.pairwise(spans)]
    assert all(gap >= 0.01 - 1e-6 for gap in gaps)


async def test_the_metrics_match_the_prometheus_instruments() -> None:
    otel = Otel()
    await _run(otel)
    assert otel.value("taskvisor.events", kind="TASK_STARTING") == 4
    assert otel.value("taskvisor.events", kind="TASK_FAILED") == 2
    assert otel.value("taskvisor.task.restarts", task="flaky") == 2
    assert otel.value("taskvisor.task.restarts", task="steady") is None
    assert otel.value("taskvisor.tasks.live") == 0
    [durations] = otel.points("taskvisor.attempt.duration")
    assert durations.count == 4
    [delays] = otel.points("taskvisor.backoff.delay")
    assert (delays.count, delays.sum) == (2, pytest.approx(0.02))
    assert list(delays.explicit_bounds)[:3] == [0.0, 0.01, 0.05]  # the advised buckets


async def test_without_the_task_label_restarts_have_no_attributes() -> None:
    otel = Otel(task_label=False)
    await _run(otel)
    assert otel.value("taskvisor.task.restarts") == 2


async def test_a_timeout_is_a_span_event_and_an_error() -> None:
    otel = Otel()

    async def hangs(ctx: tv.TaskContext) -> None:
        await anyio.sleep_forever()

    spec = tv.TaskSpec.once(tv.TaskFn("hangs", hangs), timeout=0.05)
    out = await tv.Supervisor(subscribers=[otel.sub]).run([spec])
    assert out["hangs"].kind is tv.OutcomeKind.FAILED
    [span] = otel.spans("hangs")
    assert [e.name for e in span.events] == ["taskvisor.timeout"]
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["taskvisor.end"] == "TASK_FAILED"


async def test_an_attempt_abandoned_after_force_ends_its_span_at_removal() -> None:
    otel = Otel()
    released = False

    async def stubborn(ctx: tv.TaskContext) -> None:
        while not released:  # ignores every cancellation until the test is done with it
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.01)

    config = tv.SupervisorConfig(grace=0.01)
    async with tv.Supervisor(config, subscribers=[otel.sub]).serve() as h:
        tid, waiter = await h.add_and_watch(tv.TaskSpec(stubborn, name="stubborn"))
        await h.remove(tid)
        assert (await waiter.wait()).kind is tv.OutcomeKind.FORCE_ABORTED
    released = True  # the abandoned attempt ends on its own now (the loop waits for it)
    [span] = otel.spans("stubborn")
    assert dict(span.attributes or {})["taskvisor.end"] == "TASK_REMOVED"
    # Described by the outcome's reason: force-cancelled (asyncio: the native cancellation
    # goes through anyio's shield), or abandoned (trio: the shield holds).
    assert span.status.status_code is StatusCode.ERROR
    assert "force" in (span.status.description or "")


def test_a_lost_start_still_gives_a_span_of_the_right_length() -> None:
    """Events are best-effort: an end whose TASK_STARTING was dropped still makes its span."""
    otel = Otel()
    tid = tv.TaskId(1)
    ek = tv.EventKind
    otel.sub.on_event(tv.Event(0, 10.0, ek.TASK_STARTING, tid, "t", attempt=1))
    # attempt 1's end and attempt 2's start were dropped
    otel.sub.on_event(tv.Event(5, 14.5, ek.TASK_FAILED, tid, "t", 3, "x", duration=0.5))
    spans = otel.spans("t")
    assert [dict(s.attributes or {})["taskvisor.end"] for s in spans] == ["UNKNOWN", "TASK_FAILED"]
    first, third = spans
    assert ((third.end_time or 0) - (third.start_time or 0)) == 500_000_000
    assert first.end_time == third.start_time  # the lost end is bounded by the next start


# -- retry-budget waits (docs/crash-loops.md, "Shared retry budgets") ---------------------------


@VIRTUAL_RUNNERS
def test_retry_budget_waits_are_counted_per_task_with_their_seconds(run_on: Any) -> None:
    otel = Otel()
    waits = budget_waits(run_on(lambda: budget_run(otel.sub)))
    every = [w for ws in waits.values() for w in ws]
    assert len(every) >= 2  # one token and one a second for three tasks failing together
    assert "free" not in waits
    for name, _, _ in BUDGET_TASKS:
        count = len(waits.get(name, [])) or None
        assert otel.value("taskvisor.retry_budget.waits", task=name) == count
    [seconds] = otel.points("taskvisor.retry_budget.wait")
    assert (seconds.count, seconds.sum) == (len(every), pytest.approx(sum(every)))
    assert (seconds.min, seconds.max) == (min(every), max(every))
    assert list(seconds.explicit_bounds)[:3] == [0.0, 0.01, 0.05]  # DELAY_BUCKETS
    # Every BACKOFF_SCHEDULED is a backoff delay too, the budget's waits included.
    [delays] = otel.points("taskvisor.backoff.delay")
    assert delays.count == sum(n for _, n, _ in BUDGET_TASKS) + len(every)


@VIRTUAL_RUNNERS
def test_without_the_task_label_budget_waits_have_no_attributes(run_on: Any) -> None:
    otel = Otel(task_label=False)
    waits = budget_waits(run_on(lambda: budget_run(otel.sub)))
    assert otel.value("taskvisor.retry_budget.waits") == sum(len(ws) for ws in waits.values())
    assert otel.value("taskvisor.retry_budget.waits", task="b") is None


@VIRTUAL_RUNNERS
def test_a_run_without_budgets_records_no_budget_wait(run_on: Any) -> None:
    otel = Otel()
    assert budget_waits(run_on(lambda: budget_run(otel.sub, budget=False))) == {}
    assert otel.value("taskvisor.task.restarts", task="c") == 3  # the run was recorded
    assert otel.points("taskvisor.retry_budget.waits") == []
    assert otel.points("taskvisor.retry_budget.wait") == []
