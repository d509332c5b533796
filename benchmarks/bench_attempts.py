"""Per-attempt cost: 200 tasks, each failing 20 times then succeeding, zero backoff.

What a supervisor costs per attempt, against what users write today:

- the floor: a hand-rolled retry loop, one task per worker, ``try: await body() except
  Exception: continue`` (and the same loop yielding to the event loop once per failure, which
  is what any zero-backoff retry that sleeps ``0`` does);
- tenacity's ``AsyncRetrying`` (``wait_none()``, ``stop_never`` or ``stop_after_attempt``);
- stamina's ``@stamina.retry(on=Exception, attempts=None, timeout=None, wait_*=0)``;
- taskvisor: ``TaskSpec.restartable(..., backoff=BackoffPolicy.constant(0))`` under one
  ``Supervisor.run``.

Each contender has one counting observer: the floor counts in its ``except``, tenacity in
``before_sleep``, stamina in an on-retry hook, taskvisor with one counting subscriber (plain
``on_event``, delivered in a worker thread). Every attempt raises ``RuntimeError`` except each
task's last. The figure is wall time per attempt (the whole batch / 4,200 attempts), best of k;
the ratio is against the floor on the same backend. ``core only`` drives the pure core
(``fsm.step``) by hand through the same workload, so the runtime's share is the difference.

The cProfile of the taskvisor run (asyncio) is saved to ``results/attempts.prof`` and
summarised in ``results/attempts_profile.txt``.

Run: ``python -m benchmarks.bench_attempts``.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import random
import time
from collections import deque
from typing import Any

import anyio
import anyio.lowlevel
import stamina
import tenacity

import taskvisor as tv
from benchmarks._common import (
    BACKENDS,
    RESULTS,
    Row,
    Section,
    Stopwatch,
    Timing,
    best_of,
    interleaved,
    log,
    markdown,
    on,
    run_on,
    timing_row,
)
from taskvisor import fsm

ROOT_SRC = str(RESULTS.parent.parent / "src") + "/"

N_TASKS = 200
FAILURES = 20
ATTEMPTS = N_TASKS * (FAILURES + 1)
REPEATS = 3  # taskvisor runs (about a second each on the reference machine)
REPEATS_FAST = 5  # the baselines, which take milliseconds

# Targets, CPU time, asyncio (issue 11): per attempt with one counting subscriber.
TARGET_TENACITY = 0.5  # at most half of tenacity's attempt
TARGET_FLOOR_YIELD = 6.0  # the hand-rolled loop that yields once per failure
TARGET_FLOOR = 15.0  # the hand-rolled loop without a yield


class _Flaky:
    """One task's body: raises for its first ``FAILURES`` attempts, then returns."""

    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, *_: object) -> None:
        self.calls += 1
        if self.calls <= FAILURES:
            raise RuntimeError("boom")


# -- the floor ------------------------------------------------------------------------------


async def _floor(yield_each: bool) -> Any:
    failures = 0

    async def worker() -> None:
        nonlocal failures
        body = _Flaky()
        while True:
            try:
                await body()
            except Exception:
                failures += 1
                if yield_each:
                    await anyio.lowlevel.checkpoint()
                continue
            break

    sw = Stopwatch()
    async with anyio.create_task_group() as tg:
        for _ in range(N_TASKS):
            tg.start_soon(worker)
    return sw.stop(failures)


# -- tenacity and stamina -------------------------------------------------------------------


async def _tenacity(stop: str) -> Any:
    failures = 0

    def count(_: tenacity.RetryCallState) -> None:
        nonlocal failures
        failures += 1

    stop_rule = (
        tenacity.stop_never if stop == "never" else tenacity.stop_after_attempt(FAILURES + 1)
    )

    async def worker() -> None:
        retrying = tenacity.AsyncRetrying(
            wait=tenacity.wait_none(),
            stop=stop_rule,
            retry=tenacity.retry_if_exception_type(Exception),
            before_sleep=count,
            reraise=True,
        )
        await retrying(_Flaky())

    sw = Stopwatch()
    async with anyio.create_task_group() as tg:
        for _ in range(N_TASKS):
            tg.start_soon(worker)
    return sw.stop(failures)


async def _stamina() -> Any:
    failures = 0

    def count(_: object) -> None:
        nonlocal failures
        failures += 1

    stamina.set_testing(False)
    stamina.instrumentation.set_on_retry_hooks([count])
    try:

        async def worker() -> None:
            body = _Flaky()

            @stamina.retry(
                on=Exception,
                attempts=None,
                timeout=None,
                wait_initial=0,
                wait_max=0,
                wait_jitter=0,
            )
            async def call() -> None:
                await body()

            await call()

        sw = Stopwatch()
        async with anyio.create_task_group() as tg:
            for _ in range(N_TASKS):
                tg.start_soon(worker)
        return sw.stop(failures)
    finally:
        stamina.instrumentation.set_on_retry_hooks(None)


# -- taskvisor ------------------------------------------------------------------------------


class Counting:
    """A subscriber that counts what it is given (plain ``on_event``: a worker thread)."""

    def __init__(self) -> None:
        self.count = 0

    def on_event(self, event: tv.Event) -> None:
        self.count += 1


class AsyncCounting(Counting):
    """The same, with an ``async`` ``on_event`` (delivered on the loop)."""

    async def on_event(self, event: tv.Event) -> None:  # type: ignore[override]
        self.count += 1


def _specs() -> list[tv.TaskSpec]:
    backoff = tv.BackoffPolicy.constant(0)
    return [
        tv.TaskSpec.restartable(tv.TaskFn(f"t{i}", _Flaky()), backoff=backoff)
        for i in range(N_TASKS)
    ]


def _dropped(sup: tv.Supervisor) -> int | None:
    """Events the core dropped for subscribers with full queues (a private peek, I5)."""
    try:
        return int(sum(sup._driver.state.bus.dropped))  # type: ignore[union-attr]
    except AttributeError:
        return None


async def _taskvisor(subscriber: str) -> Any:
    subs: list[Counting] = {
        "none": [],
        "counting": [Counting()],
        "async": [AsyncCounting()],
    }[subscriber]
    specs = _specs()
    sup = tv.Supervisor(tv.SupervisorConfig(seed=0), subscribers=subs)
    sw = Stopwatch()
    outcomes = await sup.run(specs)
    timed = sw.stop()
    if len(outcomes) != N_TASKS or any(
        o.kind is not tv.OutcomeKind.COMPLETED or o.attempts != FAILURES + 1
        for o in outcomes.values()
    ):
        raise AssertionError(f"unexpected outcomes: {list(outcomes.values())[:3]}")
    info = {
        "delivered": subs[0].count if subs else None,
        "dropped": _dropped(sup),
        "published": getattr(getattr(sup._driver, "state", None), "seq", None),
    }
    return type(timed)(timed.wall, timed.cpu, info)


# -- the core alone -------------------------------------------------------------------------


async def _noop(ctx: object) -> None:
    return None


def core_only() -> Any:
    """The same workload through ``fsm.step`` alone, driven as the runtime drives it.

    Every attempt that starts ends at once (FAILED for the first 20 of each task, then
    RETURNED); when nothing is pending, one ``TICK`` at the next deadline restarts every task
    that is due. One subscriber of capacity 1024 whose queue is drained (``EventsConsumed``)
    whenever it holds 512 events, as the bus's batched worker does.
    """
    rng = random.Random(0)
    state = fsm.SupervisorState.initial(
        fsm.CoreConfig(subscribers=[fsm.SubscriberInfo("counting", 1024)])
    )
    backoff = tv.BackoffPolicy.constant(0)
    items = tuple(
        (fsm.TaskId(i + 1), tv.TaskSpec.restartable(tv.TaskFn(f"t{i}", _noop), backoff=backoff))
        for i in range(N_TASKS)
    )
    calls = dict.fromkeys((tid for tid, _ in items), 0)
    step = fsm.step
    start_attempt = fsm.StartAttempt
    publish = fsm.Publish
    failed, returned = fsm.EndKind.FAILED, fsm.EndKind.RETURNED
    pending: deque[Any] = deque()
    now = 0
    queued = 0
    attempts = 0
    steps = 0

    def feed(inp: Any) -> None:
        nonlocal state, steps, queued, attempts
        state, effects = step(state, inp, now, rng)
        steps += 1
        for eff in effects:
            if type(eff) is publish:
                queued += len(eff.recipients)
            elif type(eff) is start_attempt:
                attempts += 1
                n = calls[eff.task_id] = calls[eff.task_id] + 1
                end = failed if n <= FAILURES else returned
                pending.append(fsm.AttemptEnded(eff.task_id, eff.attempt, end, "boom"))
        if queued >= 512:
            pending.append(fsm.EventsConsumed(0, queued))
            queued = 0

    sw = Stopwatch()
    feed(fsm.AddTasks(1, items))
    while True:
        while pending:
            now += 1_000
            feed(pending.popleft())
        deadline = fsm.next_deadline(state)
        if deadline is None:
            break
        now = max(now, deadline)
        feed(fsm.TICK)
    timed = sw.stop()
    if attempts != ATTEMPTS or state.tasks:
        raise AssertionError(f"core drove {attempts} attempts, {len(state.tasks)} tasks left")
    return type(timed)(timed.wall, timed.cpu, {"steps": steps, "events": state.seq})


# -- the profile ----------------------------------------------------------------------------

_AREAS = (
    ("taskvisor.fsm (core)", "/taskvisor/fsm/"),
    ("taskvisor.runtime", "/taskvisor/runtime/"),
    ("taskvisor (other)", "/taskvisor/"),
    ("attrs", "/attr/"),
    ("anyio", "/anyio/"),
    ("sniffio", "/sniffio/"),
    ("asyncio", "/asyncio/"),
    ("benchmark bodies", "/benchmarks/"),
)


def _area(filename: str) -> str:
    for name, marker in _AREAS:
        if marker in filename:
            return name
    if filename.startswith("<attrs generated"):
        return "attrs (generated __init__/__eq__/__hash__)"
    if filename == "~":
        return "builtins (C)"
    return "other"


def profile(cpu_us_per_attempt: float | None = None) -> dict[str, Any]:
    """cProfile one taskvisor run (asyncio, counting subscriber); save it and a text summary.

    ``cpu_us_per_attempt`` (the unprofiled figure from the same run) turns each function's
    share of the profile into an estimate of its unprofiled cost per attempt.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    run_on("asyncio", _taskvisor, "counting")
    prof.disable()
    elapsed = time.perf_counter() - t0
    prof.dump_stats(RESULTS / "attempts.prof")
    stats = pstats.Stats(prof)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    areas: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in raw.items():
        area = _area(filename)
        areas[area] = areas.get(area, 0.0) + tottime
    top = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:25]

    def where(key: tuple[str, int, str]) -> str:
        filename, line, func = key
        short = filename.split("/site-packages/")[-1].split("/src/")[-1]
        return f"{short}:{line}({func})"

    top_rows = [
        {
            "function": where(key),
            "calls": v[1],
            "tottime_s": round(v[2], 4),
            "cumtime_s": round(v[3], 4),
            "share": round(v[2] / total, 4),
            "est_us_per_attempt": (
                round(v[2] / total * cpu_us_per_attempt, 2) if cpu_us_per_attempt else None
            ),
        }
        for key, v in top
    ]
    lines = [
        "Per-attempt workload under cProfile: 200 tasks x (20 failures + 1 success), "
        "BackoffPolicy.constant(0), one counting subscriber, asyncio.",
        f"Wall time under the profiler: {elapsed:.2f} s for {ATTEMPTS} attempts "
        f"(profiling inflates every call; read the shares, not the absolute times).",
        f"Profiled time (sum of tottime): {total:.3f} s",
        "Unprofiled CPU time in the same run: "
        + (f"{cpu_us_per_attempt:.1f} µs/attempt" if cpu_us_per_attempt else "not measured")
        + " ('est. µs/att' = share x that figure).",
        "",
        "Time by area (tottime, summed over functions defined there):",
    ]
    for area, t in sorted(areas.items(), key=lambda kv: kv[1], reverse=True):
        lines.append(f"  {area:<45} {t:7.3f} s  {t / total:6.1%}")
    lines += ["", "Top 25 functions by own time (tottime):"]
    lines.append(f"  {'tottime':>8} {'share':>6} {'calls':>8} {'est. µs/att':>11}  function")
    for r in top_rows:
        est = r["est_us_per_attempt"]
        lines.append(
            f"  {r['tottime_s']:8.3f} {r['share']:6.1%} {r['calls']:8d} "
            f"{'-' if est is None else f'{est:.2f}':>11}  {r['function']}"
        )
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(r"taskvisor", 30)
    cumulative = buf.getvalue().split("\n")
    start = next((i for i, ln in enumerate(cumulative) if "ncalls" in ln), 0)
    lines += ["", "Top 30 taskvisor functions by cumulative time:"]
    lines += ["  " + ln.replace(ROOT_SRC, "").rstrip() for ln in cumulative[start:] if ln.strip()]
    (RESULTS / "attempts_profile.txt").write_text("\n".join(lines) + "\n")
    return {
        "wall_under_profiler_s": round(elapsed, 3),
        "profiled_s": round(total, 4),
        "areas": {k: round(v, 4) for k, v in areas.items()},
        "top": top_rows,
    }


# -- the benchmark --------------------------------------------------------------------------


def measure() -> Section:
    section = Section(
        "attempts",
        f"Per-attempt cost ({N_TASKS} tasks x {FAILURES} failures + 1 success, zero backoff)",
    )
    per = 1e6 / ATTEMPTS  # seconds per run -> microseconds per attempt
    data: dict[str, Any] = {"tasks": N_TASKS, "failures": FAILURES, "attempts": ATTEMPTS}
    for backend in BACKENDS:
        log(f"  attempts: {backend}")
        # The baselines take milliseconds: several runs each per round, interleaved with
        # taskvisor's so that load on the machine hits every contender alike.
        fast = {
            "floor": on(backend, _floor, False),
            "floor_yield": on(backend, _floor, True),
            "tenacity": on(backend, _tenacity, "never"),
            "tenacity_stop_after": on(backend, _tenacity, "after"),
            "stamina": on(backend, _stamina),
        }
        slow = {
            "taskvisor": on(backend, _taskvisor, "counting"),
            "taskvisor_no_subscriber": on(backend, _taskvisor, "none"),
        }
        if backend == "asyncio":
            slow["taskvisor_async_subscriber"] = on(backend, _taskvisor, "async")
        t: dict[str, Timing] = {}
        for _ in range(REPEATS):
            for name, timing in interleaved(fast, REPEATS_FAST // REPEATS + 1).items():
                t[name] = timing if name not in t else _better(t[name], timing)
            for name, timing in interleaved(slow, 1).items():
                t[name] = timing if name not in t else _better(t[name], timing)
        data[backend] = {
            name: {
                "wall_us_per_attempt": timing.wall * per,
                "cpu_us_per_attempt": timing.cpu * per,
                "info": timing.result if isinstance(timing.result, dict) else None,
            }
            for name, timing in t.items()
        }

        tvu, floor, floor_yield, ten = (
            t[k].cpu for k in ("taskvisor", "floor", "floor_yield", "tenacity")
        )
        label = "taskvisor, counting subscriber"
        targeted = backend == "asyncio"  # the targets are set on asyncio; the others are shown

        def target(
            limit: float, base: float, what: str, value: float = tvu, on: bool = targeted
        ) -> dict[str, Any]:
            if not on:
                return {}
            return {"target": f"<= {limit:g}x {what} (CPU)", "met": value <= limit * base}

        rows: list[tuple[str, str, str, str, dict[str, Any]]] = [
            (
                "taskvisor",
                "tenacity",
                label,
                "tenacity AsyncRetrying",
                target(TARGET_TENACITY, ten, "tenacity"),
            ),
            (
                "taskvisor",
                "floor_yield",
                label,
                "floor + a yield per failure",
                target(TARGET_FLOOR_YIELD, floor_yield, "floor + yield"),
            ),
            (
                "taskvisor",
                "floor",
                label,
                "hand-rolled loop (floor)",
                target(TARGET_FLOOR, floor, "floor"),
            ),
            ("taskvisor", "stamina", label, "stamina.retry", {}),
            ("taskvisor_no_subscriber", "floor", "taskvisor, no subscriber", "floor", {}),
            ("tenacity", "floor", "tenacity, stop_never", "floor", {}),
            (
                "tenacity_stop_after",
                "floor",
                f"tenacity, stop_after_attempt({FAILURES + 1})",
                "floor",
                {},
            ),
            ("stamina", "floor", "stamina", "floor", {}),
        ]
        if "taskvisor_async_subscriber" in t:
            rows.insert(
                5,
                (
                    "taskvisor_async_subscriber",
                    "floor",
                    "taskvisor, async counting subscriber",
                    "floor",
                    {},
                ),
            )
        for name, base, what, baseline, kw in rows:
            section.rows.append(
                timing_row(
                    f"{backend}: {what}", t[name], t[base], per, "µs/attempt", baseline, **kw
                )
            )
    log("  attempts: core only")
    core = best_of(core_only, k=REPEATS)
    asyncio_tv = data["asyncio"]["taskvisor"]
    data["core_only"] = {
        "wall_us_per_attempt": core.wall * per,
        "cpu_us_per_attempt": core.cpu * per,
        "info": core.result,
    }
    section.rows.append(
        Row(
            "pure core alone (fsm.step), same workload",
            core.wall * per,
            "µs/attempt",
            "taskvisor on asyncio (whole runtime)",
            asyncio_tv["wall_us_per_attempt"],
            cpu_value=core.cpu * per,
            cpu_baseline=asyncio_tv["cpu_us_per_attempt"],
            note="the rest is the runtime's share",
        )
    )
    log("  attempts: profile")
    data["profile"] = profile(asyncio_tv["cpu_us_per_attempt"])
    section.data = data
    areas = data["profile"]["areas"]
    total = data["profile"]["profiled_s"]
    share = ", ".join(
        f"{k} {v / total:.0%}" for k, v in sorted(areas.items(), key=lambda kv: -kv[1])[:5]
    )
    section.notes += [
        f"µs/attempt = wall time of the whole batch / {ATTEMPTS:,} attempts; best of "
        f"{REPEATS} (taskvisor) or {REPEATS * (REPEATS_FAST // REPEATS + 1)} (baselines), "
        "contenders interleaved round by round.",
        "The floor never yields to the event loop between retries; the 'floor + a yield' "
        "baseline does, once per failure, as every zero-backoff retry that sleeps 0 does.",
        "The core-alone row drives fsm.step by hand through the same 4,200 attempts: its "
        "ratio is the core's share of taskvisor's whole cost on asyncio.",
        f"Profile (asyncio, cProfile, own time by area): {share}.",
        "The targets (issue 11) are on asyncio, CPU time: <= "
        f"{TARGET_TENACITY:g}x tenacity, <= {TARGET_FLOOR_YIELD:g}x the floor with a yield, "
        f"<= {TARGET_FLOOR:g}x the floor; uvloop and trio are shown against the same baselines.",
        "Share of the published events the counting subscriber (plain on_event, a worker "
        "thread) received; the rest were dropped for it and counted (bounded queue, I5): "
        + ", ".join(_delivered(data, b) for b in BACKENDS)
        + ". The async counting subscriber (on the loop) receives every event.",
    ]
    return section


def _delivered(data: dict[str, Any], backend: str) -> str:
    info = data[backend]["taskvisor"]["info"] or {}
    delivered, published = info.get("delivered"), info.get("published")
    if not delivered or not published:
        return f"{backend} -"
    return f"{backend} {delivered / published:.0%}"


def _better(a: Timing, b: Timing) -> Timing:
    """The better of two best-of timings: the least wall (with its result), the least CPU."""
    best = a if a.wall <= b.wall else b
    return Timing(best.wall, min(a.cpu, b.cpu), best.result, a.runs + b.runs)


def main() -> None:
    print(markdown(measure()))


if __name__ == "__main__":
    main()
