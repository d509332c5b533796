"""Benchmark: the ``contention`` model in ``taskvisor.sim`` against SimPy, in one process.

SimPy is the standard Python discrete-event library; here it runs the same model written the
usual way (one process per client, ``env.timeout`` per network leg, each leg drawn with
``abs(random.normalvariate(...))`` and the blog's full-jitter formula). ``taskvisor.sim`` runs
its own engine (one heap event per call, the core's backoff arithmetic, legs drawn in blocks).
Both are timed on CPU time (``time.process_time``), interleaved round by round so machine noise
hits both alike, and reported as simulated calls per CPU second with their ratio. Both models
must agree on the mean number of calls (same model, different engines): that is printed too.

Then memory: ``tracemalloc`` peak of one ``outage`` run (1000 tasks, full jitter) whose outage
is made longer and longer, for about 10^4, 10^5 and 10^6 simulated attempts, and the CPU time
of the 10^6 run (timed without tracemalloc). Metrics stream, so the peak should stay flat.

Run: ``python benchmarks/bench_sim.py`` (needs ``simpy``: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import gc
import random
import statistics
import time
import tracemalloc

import simpy

from taskvisor import BackoffPolicy, JitterPolicy
from taskvisor.sim import RunSeeds, aws_policies, simulate
from taskvisor.sim._contention import CONTENTION

CLIENTS = 100
RUNS_PER_ROUND = 40  # SimPy runs per round
OURS_FACTOR = 5  # taskvisor.sim runs per SimPy run in a round
ROUNDS = 7
BASE, CAP = 0.005, 2.0  # the blog's base and cap
MU, SD = 0.010, 0.002  # one network leg


def simpy_contention(n: int, seed: int) -> tuple[int, float]:
    """The contention model in SimPy, one process per client; returns (calls, completion)."""
    env = simpy.Environment()
    rng = random.Random(seed)
    row = {"version": 0}
    stats = {"calls": 0, "done": 0.0}

    def leg() -> float:
        return abs(rng.normalvariate(MU, SD))

    def client(env: simpy.Environment):  # type: ignore[no-untyped-def]
        attempt = 0
        while True:
            yield env.timeout(leg())  # the read travels to the server
            version = row["version"]
            yield env.timeout(leg())  # the version travels back
            yield env.timeout(leg())  # the write travels to the server
            stats["calls"] += 1
            ok = row["version"] == version
            if ok:
                row["version"] += 1
            yield env.timeout(leg())  # the reply travels back
            if ok:
                stats["done"] = max(stats["done"], env.now)
                return
            attempt += 1
            yield env.timeout(rng.uniform(0, min(CAP, BASE * 2**attempt)))  # full jitter

    for _ in range(n):
        env.process(client(env))
    env.run()
    return stats["calls"], stats["done"]


def ours_contention(n: int, seed: int) -> tuple[int, float]:
    """The same model in taskvisor.sim (the core's FULL jitter, the blog's base and cap)."""
    full = dict(aws_policies())["full"]
    result = CONTENTION.run_fn(
        {"clients": n, "leg": MU, "leg_sd": SD}, full, RunSeeds(seed, seed + 1), False
    )
    return int(result.metrics["calls"]), result.metrics["completion"]


def _timed(fn: object, seeds: range) -> tuple[int, float, list[int]]:
    gc.collect()
    t0 = time.process_time()
    calls = [fn(CLIENTS, s)[0] for s in seeds]  # type: ignore[operator]
    return sum(calls), time.process_time() - t0, calls


def compare() -> None:
    print(f"contention, N = {CLIENTS} clients, full jitter, base 5 ms, cap 2 s;")
    print(
        f"{ROUNDS} interleaved rounds of {RUNS_PER_ROUND * OURS_FACTOR} (taskvisor.sim) and "
        f"{RUNS_PER_ROUND} (SimPy) runs; CPU time\n"
    )
    names = ("taskvisor.sim", "SimPy")
    totals = {name: [0, 0.0] for name in names}
    samples: dict[str, list[int]] = {name: [] for name in names}
    ratios = []
    for r in range(ROUNDS):
        rates = {}
        for name, fn, k in zip(
            names, (ours_contention, simpy_contention), (OURS_FACTOR, 1), strict=True
        ):
            # taskvisor.sim runs OURS_FACTOR times more runs per round, so that both engines
            # are timed over windows of similar length (a short window is noisier).
            seeds = range(r * RUNS_PER_ROUND * k, (r + 1) * RUNS_PER_ROUND * k)
            calls, cpu, per_run = _timed(fn, seeds)
            totals[name][0] += calls
            totals[name][1] += cpu
            samples[name] += per_run
            rates[name] = calls / cpu
        ratios.append(rates["taskvisor.sim"] / rates["SimPy"])
    rate = {name: c / t for name, (c, t) in totals.items()}
    for name in names:
        mean = statistics.fmean(samples[name])
        half = 1.96 * statistics.stdev(samples[name]) / len(samples[name]) ** 0.5
        print(
            f"  {name:14s} {rate[name]:>10,.0f} calls/CPU-s"
            f"   mean calls per run {mean:.1f} ± {half:.1f}"
        )
    overall = rate["taskvisor.sim"] / rate["SimPy"]
    print(
        f"\n  ratio taskvisor.sim / SimPy: {overall:.2f}x overall; per round "
        f"{', '.join(f'{x:.2f}' for x in ratios)} (median {statistics.median(ratios):.2f}x)\n"
    )


def _outage(down: float) -> dict[str, float]:
    params = {"tasks": 1000, "down": down, "capacity": 100, "horizon": down + 3600.0}
    policy = BackoffPolicy(0.2, 30.0, jitter=JitterPolicy.FULL)
    return simulate("outage", policy, params).metrics


def memory() -> None:
    print("memory: one outage run (1000 tasks, full jitter, cap 30 s), longer and longer")
    # About 1000 tasks * down / 15 s attempts (a full-jitter delay averages 15 s at the cap).
    for down in (150.0, 1_500.0, 15_000.0):
        gc.collect()
        tracemalloc.start()
        m = _outage(down)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        gc.collect()
        t0 = time.process_time()
        _outage(down)
        cpu = time.process_time() - t0
        print(
            f"  down {down:>8,.0f} s: {m['attempts']:>10,.0f} attempts   "
            f"peak {peak / 2**20:6.2f} MiB   {cpu:6.2f} s CPU "
            f"({m['attempts'] / cpu:,.0f} attempts/CPU-s)"
        )
    gc.collect()
    tracemalloc.start()
    calls = sum(ours_contention(CLIENTS, 10_000 + r)[0] for r in range(125))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    runs = 0
    total = 0
    t0 = time.process_time()
    while total < 1_000_000:
        total += ours_contention(CLIENTS, 20_000 + runs)[0]
        runs += 1
    cpu = time.process_time() - t0
    print(
        f"  contention: {total:,} calls in {runs} runs of {CLIENTS} clients: {cpu:.2f} s CPU; "
        f"tracemalloc peak over {calls:,} calls: {peak / 2**20:.2f} MiB"
    )


def main() -> None:
    compare()
    memory()


if __name__ == "__main__":
    main()
