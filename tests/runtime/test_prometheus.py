"""PrometheusSubscriber against a real ``prometheus_client.CollectorRegistry``.

The contract is docs/spec/api.md section 9.

Each test runs a real supervisor (asyncio and trio) with the subscriber and reads the registry's
samples, as a scrape would. The retry-budget tests run on virtual time (a budget's waits last
seconds), with the subscriber's ``on_event`` called on the loop (``runtime_support.OnTheLoop``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import anyio
import prometheus_client
import pytest
from runtime_support import BUDGET_TASKS, EK, VIRTUAL_RUNNERS, budget_run, budget_waits

import taskvisor as tv
from taskvisor.contrib.prometheus import PrometheusSubscriber

pytestmark = pytest.mark.anyio

BACKOFF = tv.BackoffPolicy.constant(0.01)


def _flaky(failures: int) -> Callable[[tv.TaskContext], object]:
    async def body(ctx: tv.TaskContext) -> None:
        if ctx.attempt <= failures:
            raise tv.Fail("boom")

    return body


def _specs() -> list[tv.TaskSpec]:
    return [
        tv.TaskSpec.restartable(tv.TaskFn("flaky", _flaky(2)), backoff=BACKOFF),
        tv.TaskSpec.once(tv.TaskFn("steady", _flaky(0))),
    ]


async def _run(sub: PrometheusSubscriber, *others: object) -> None:
    out = await tv.Supervisor(subscribers=[sub, *others]).run(_specs())
    assert {o.kind for o in out.values()} == {tv.OutcomeKind.COMPLETED}


async def test_a_run_is_counted_in_every_metric() -> None:
    registry = prometheus_client.CollectorRegistry()
    await _run(PrometheusSubscriber(registry))
    sample = registry.get_sample_value
    assert sample("taskvisor_events_total", {"kind": "TASK_ADDED"}) == 2
    assert sample("taskvisor_events_total", {"kind": "TASK_STARTING"}) == 4
    assert sample("taskvisor_events_total", {"kind": "TASK_FAILED"}) == 2
    assert sample("taskvisor_events_total", {"kind": "ALL_STOPPED_WITHIN_GRACE"}) == 1
    assert sample("taskvisor_task_restarts_total", {"task": "flaky"}) == 2
    assert sample("taskvisor_task_restarts_total", {"task": "steady"}) is None  # never restarted
    assert sample("taskvisor_tasks_live") == 0  # both added, both removed
    assert sample("taskvisor_attempt_duration_seconds_count") == 4
    assert sample("taskvisor_backoff_delay_seconds_count") == 2
    assert sample("taskvisor_backoff_delay_seconds_sum") == pytest.approx(0.02)
    assert sample("taskvisor_backoff_delay_seconds_bucket", {"le": "0.01"}) == 2
    assert sample("taskvisor_backoff_delay_seconds_bucket", {"le": "0.0"}) == 0


async def test_the_exposition_names_every_metric_of_the_contract() -> None:
    registry = prometheus_client.CollectorRegistry()
    await _run(PrometheusSubscriber(registry))
    text = prometheus_client.generate_latest(registry).decode()
    for line in (
        "# TYPE taskvisor_events_total counter",
        "# TYPE taskvisor_task_restarts_total counter",
        "# TYPE taskvisor_tasks_live gauge",
        "# TYPE taskvisor_attempt_duration_seconds histogram",
        "# TYPE taskvisor_backoff_delay_seconds histogram",
        "# TYPE taskvisor_retry_budget_waits_total counter",
        "# TYPE taskvisor_retry_budget_wait_seconds histogram",
        "# TYPE taskvisor_subscriber_dropped_total counter",
        'taskvisor_task_restarts_total{task="flaky"} 2.0',
    ):
        assert line in text.splitlines()


async def test_without_the_task_label_restarts_are_one_series() -> None:
    registry = prometheus_client.CollectorRegistry()
    await _run(PrometheusSubscriber(registry, task_label=False))
    assert registry.get_sample_value("taskvisor_task_restarts_total") == 2
    assert registry.get_sample_value("taskvisor_task_restarts_total", {"task": "flaky"}) is None


async def _until(cond: Callable[[], bool]) -> None:
    """Poll ``cond`` (the subscriber records in its worker thread) for up to 10 s."""
    with anyio.fail_after(10):
        while not cond():  # noqa: ASYNC110 - the condition changes in another thread
            await anyio.sleep(0.005)


async def test_live_tasks_follow_additions_and_removals() -> None:
    registry = prometheus_client.CollectorRegistry()

    async def idle(ctx: tv.TaskContext) -> None:
        await ctx.cancelled()

    def live() -> float | None:
        return registry.get_sample_value("taskvisor_tasks_live")

    async with tv.Supervisor(subscribers=[PrometheusSubscriber(registry)]).serve() as h:
        first = await h.add(tv.TaskSpec(idle, name="a"))
        await h.add(tv.TaskSpec(idle, name="b"))
        await _until(lambda: live() == 2)
        await h.cancel(first)
        await _until(lambda: live() == 1)
    assert live() == 0


class Stuck:
    """A subscriber with a queue of 1 that blocks until freed: it overflows at once."""

    name = "stuck"
    queue_capacity = 1

    def __init__(self) -> None:
        self.free = threading.Event()

    def on_event(self, event: tv.Event) -> None:
        self.free.wait(30)


async def test_overflow_reports_are_counted_per_subscriber() -> None:
    registry = prometheus_client.CollectorRegistry()
    stuck = Stuck()
    try:
        async with tv.Supervisor(subscribers=[PrometheusSubscriber(registry), stuck]).serve() as h:
            for spec in _specs():
                _, waiter = await h.add_and_watch(spec)
                await waiter.wait()
            reports = registry.get_sample_value
            await _until(
                lambda: reports("taskvisor_events_total", {"kind": "SUBSCRIBER_OVERFLOW"}) == 1
            )
            stuck.free.set()
    finally:
        stuck.free.set()
    # One episode (the stuck subscriber never caught up while events flowed): one report,
    # counted under its name, while subscriber_stats() has every dropped event.
    assert registry.get_sample_value(
        "taskvisor_subscriber_dropped_total", {"subscriber": "stuck"}
    ) == registry.get_sample_value("taskvisor_events_total", {"kind": "SUBSCRIBER_OVERFLOW"})
    assert h.subscriber_stats()[1].dropped > 1


def test_a_registry_takes_each_metric_once() -> None:
    registry = prometheus_client.CollectorRegistry()
    PrometheusSubscriber(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        PrometheusSubscriber(registry)


# -- retry-budget waits (docs/crash-loops.md, "Shared retry budgets") ---------------------------


@VIRTUAL_RUNNERS
def test_retry_budget_waits_are_counted_per_task_with_their_seconds(run_on: Any) -> None:
    registry = prometheus_client.CollectorRegistry()
    rec = run_on(lambda: budget_run(PrometheusSubscriber(registry)))
    waits = budget_waits(rec)
    every = [w for ws in waits.values() for w in ws]
    # One token and one a second for three tasks failing together: restarts wait (asyncio:
    # b and c twice, 1 s and 2 s, then 1 s each; trio may share them out in another order).
    assert len(every) >= 2
    assert "free" not in waits  # no budget, never waits
    sample = registry.get_sample_value
    for name, _, _ in BUDGET_TASKS:
        count = len(waits.get(name, [])) or None  # a task that never waited has no series
        assert sample("taskvisor_retry_budget_waits_total", {"task": name}) == count
    assert sample("taskvisor_retry_budget_wait_seconds_count") == len(every)
    assert sample("taskvisor_retry_budget_wait_seconds_sum") == pytest.approx(sum(every))
    for le in (1.0, 2.5):
        below = sum(w <= le for w in every)
        assert sample("taskvisor_retry_budget_wait_seconds_bucket", {"le": str(le)}) == below
    # The backoff-delay histogram observes every BACKOFF_SCHEDULED, the budget's included: a
    # restart that waited is two observations (its 1 s backoff, then the wait).
    restarts = sum(n for _, n, _ in BUDGET_TASKS)
    assert sample("taskvisor_task_restarts_total", {"task": "c"}) == 3
    assert sample("taskvisor_backoff_delay_seconds_count") == restarts + len(every)
    assert sample("taskvisor_backoff_delay_seconds_sum") == pytest.approx(restarts + sum(every))
    scheduled = [e for e in rec.events if e.kind is EK.BACKOFF_SCHEDULED]
    assert len(scheduled) == restarts + len(every)


@VIRTUAL_RUNNERS
def test_without_the_task_label_budget_waits_are_one_series(run_on: Any) -> None:
    registry = prometheus_client.CollectorRegistry()
    rec = run_on(lambda: budget_run(PrometheusSubscriber(registry, task_label=False)))
    total = sum(len(ws) for ws in budget_waits(rec).values())
    assert total >= 2
    assert registry.get_sample_value("taskvisor_retry_budget_waits_total") == total
    assert registry.get_sample_value("taskvisor_retry_budget_waits_total", {"task": "b"}) is None


@VIRTUAL_RUNNERS
@pytest.mark.parametrize("task_label", [True, False])
def test_a_run_without_budgets_records_no_budget_wait(run_on: Any, task_label: bool) -> None:
    registry = prometheus_client.CollectorRegistry()
    sub = PrometheusSubscriber(registry, task_label=task_label)
    rec = run_on(lambda: budget_run(sub, budget=False))
    assert budget_waits(rec) == {}
    sample = registry.get_sample_value
    # The subscriber saw the restarts (so the zeros below are not a run it missed).
    if task_label:
        assert sample("taskvisor_task_restarts_total", {"task": "c"}) == 3
    else:
        assert sample("taskvisor_task_restarts_total") == sum(n for _, n, _ in BUDGET_TASKS)
    if task_label:
        assert all(
            sample("taskvisor_retry_budget_waits_total", {"task": name}) is None
            for name, _, _ in BUDGET_TASKS
        )
    else:
        assert sample("taskvisor_retry_budget_waits_total") == 0
    assert sample("taskvisor_retry_budget_wait_seconds_count") == 0
    assert sample("taskvisor_retry_budget_wait_seconds_sum") == 0
