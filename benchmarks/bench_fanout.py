"""Event fan-out: what subscribers cost the supervisor, and what they receive.

Workload: a zero-backoff crash loop, 100 tasks each failing 30 times then succeeding
(``BackoffPolicy.constant(0)``), about 4.3 events per attempt. Run with 0, 1, 4 and 8 counting
subscribers (plain ``on_event``: delivered in batches from a worker thread), with one async
counting subscriber, and with one subscriber that blocks (``time.sleep`` in ``on_event``).

Per run: the supervisor's own throughput (attempts per second, up to the last attempt's
start), the events it published per second, and per subscriber the events delivered per
second of the run and the share of published events it received (the rest were dropped for
it alone, each drop counted: I5). The baseline is the same run with no subscriber; the target
compares the blocking subscriber with a counting one: the supervisor must stay within 10%.

Run: ``python -m benchmarks.bench_fanout``.
"""

from __future__ import annotations

import time
from typing import Any

import taskvisor as tv
from benchmarks._common import BACKENDS, Row, Section, SelfTimed, interleaved, log, markdown, on

N_TASKS = 100
FAILURES = 30
ATTEMPTS = N_TASKS * (FAILURES + 1)
REPEATS = 3
BLOCK_S = 0.01  # the blocking subscriber's sleep per event
TARGET_BLOCKING = 0.9  # attempts/s with a blocking subscriber >= 90% of a counting one's


class Counting:
    def __init__(self) -> None:
        self.count = 0

    def on_event(self, event: tv.Event) -> None:
        self.count += 1


class AsyncCounting(Counting):
    async def on_event(self, event: tv.Event) -> None:  # type: ignore[override]
        self.count += 1


class Blocking(Counting):
    def on_event(self, event: tv.Event) -> None:
        time.sleep(BLOCK_S)
        self.count += 1


SCENARIOS: dict[str, Any] = {
    "0 subscribers": lambda: [],
    "1 counting": lambda: [Counting()],
    "4 counting": lambda: [Counting() for _ in range(4)],
    "8 counting": lambda: [Counting() for _ in range(8)],
    "1 async counting": lambda: [AsyncCounting()],
    "1 blocking": lambda: [Blocking()],
}


async def _crash_loop(scenario: str) -> SelfTimed:
    subs = SCENARIOS[scenario]()
    last = 0.0
    last_cpu = 0.0

    def make(i: int) -> tv.TaskSpec:
        calls = 0

        async def body(ctx: tv.TaskContext) -> None:
            nonlocal calls, last, last_cpu
            calls += 1
            last = time.perf_counter()
            last_cpu = time.thread_time()
            if calls <= FAILURES:
                raise RuntimeError("boom")

        return tv.TaskSpec.restartable(
            tv.TaskFn(f"t{i}", body), backoff=tv.BackoffPolicy.constant(0)
        )

    specs = [make(i) for i in range(N_TASKS)]
    # A short drain: the blocking subscriber would otherwise hold run() for the full 5 s.
    config = tv.SupervisorConfig(seed=0, subscriber_shutdown_timeout=0.05)
    sup = tv.Supervisor(config, subscribers=subs)
    c0 = time.process_time()
    loop_c0 = time.thread_time()  # the event loop's thread: the supervisor's own CPU
    t0 = time.perf_counter()
    await sup.run(specs)
    ended = time.perf_counter()
    cpu = time.process_time() - c0
    state = getattr(sup._driver, "state", None)  # a private peek: published and dropped
    published = getattr(state, "seq", None)
    dropped = list(state.bus.dropped) if state is not None else [None] * len(subs)
    info = {
        "attempts_per_s": ATTEMPTS / (last - t0),
        "attempts_per_loop_cpu_s": ATTEMPTS / (last_cpu - loop_c0),
        "published": published,
        "published_per_s": published / (last - t0) if published else None,
        "run_s": ended - t0,
        "delivered": [s.count for s in subs],
        "delivered_per_s": [s.count / (ended - t0) for s in subs],
        "dropped": dropped,
    }
    return SelfTimed(last - t0, cpu, info)


def measure() -> Section:
    section = Section(
        "fanout",
        f"Event fan-out (crash loop: {N_TASKS} tasks x {FAILURES} failures + 1, zero backoff)",
    )
    data: dict[str, Any] = {"tasks": N_TASKS, "failures": FAILURES, "attempts": ATTEMPTS}
    for backend in BACKENDS:
        log(f"  fanout: {backend}")
        cases = {scenario: on(backend, _crash_loop, scenario) for scenario in SCENARIOS}
        results = {}
        for scenario, timing in interleaved(cases, REPEATS).items():
            info = dict(timing.result)
            info["cpu_s"] = timing.cpu
            results[scenario] = info
        data[backend] = results
        base = results["0 subscribers"]
        section.rows.append(
            Row(
                f"{backend}: 0 subscribers, events published",
                base["published_per_s"],
                "ev/s",
                note="the supervisor's own rate",
            )
        )
        for scenario in ("1 counting", "4 counting", "8 counting", "1 async counting"):
            r = results[scenario]
            share = _share(r)
            section.rows.append(
                Row(
                    f"{backend}: {scenario}, attempts/s (each subscriber got {share})",
                    r["attempts_per_s"],
                    "att/s",
                    "0 subscribers",
                    base["attempts_per_s"],
                    cpu_value=r["attempts_per_loop_cpu_s"],
                    cpu_baseline=base["attempts_per_loop_cpu_s"],
                )
            )
            section.rows.append(
                Row(
                    f"{backend}: {scenario}, events delivered per subscriber",
                    min(r["delivered_per_s"]),
                    "ev/s",
                    "events published, 0 subscribers",
                    base["published_per_s"],
                )
            )
        counting, blocking = results["1 counting"], results["1 blocking"]
        ratio = blocking["attempts_per_s"] / counting["attempts_per_s"]
        section.rows.append(
            Row(
                f"{backend}: 1 blocking ({BLOCK_S * 1e3:g} ms/event), attempts/s "
                f"(it got {_share(blocking)})",
                blocking["attempts_per_s"],
                "att/s",
                "1 counting subscriber",
                counting["attempts_per_s"],
                f">= {TARGET_BLOCKING:.0%} of counting",
                ratio >= TARGET_BLOCKING,
                cpu_value=blocking["attempts_per_loop_cpu_s"],
                cpu_baseline=counting["attempts_per_loop_cpu_s"],
            )
        )
    section.data = data
    section.notes += [
        "attempts/s counts up to the start of the last attempt; delivered/s divides what a "
        "subscriber received by the whole run (including the final drain); best of "
        f"{REPEATS} by attempts/s, scenarios interleaved round by round.",
        "For attempts/s rows, 'ratio (CPU)' compares attempts per CPU second of the event "
        "loop's thread alone (time.thread_time): the supervisor's own cost, without the "
        "subscribers' worker threads and without waiting.",
        "A subscriber that cannot keep up loses events (dropped for it alone and counted, I5); "
        "the supervisor never waits for it. 'got' is the share of published events delivered.",
    ]
    return section


def _share(r: dict[str, Any]) -> str:
    published = r["published"]
    if not published or not r["delivered"]:
        return "-"
    return f"{min(r['delivered']) / published:.0%}"


def main() -> None:
    print(markdown(measure()))


if __name__ == "__main__":
    main()
