"""Measure how much per-task random streams narrow the 95% interval of a policy difference.

Usage (from the repository root):

    .venv/bin/python tools/crn.py [--seeds 20] [--workers 2]

For each comparison (two policies in one scenario) it runs every seed twice:

- *common* draws: the simulator's own seeds (``run_seeds``): in run r every task draws the same
  numbers under both policies (its stream depends on the run, not the policy), so the
  difference is paired on the draws as well as on the world;
- *independent* draws: the same worlds, but each policy's task streams seeded with the policy
  too, as the simulator did before per-task streams (one stream per policy).

It prints, per metric, the mean difference and the 95% half-width of the paired difference
under each, and their ratio: how many times narrower the interval is with common draws (its
square is how many times more seeds the independent draws would need for the same width).
The numbers are those of ``docs/simulator.md``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from taskvisor import BackoffPolicy, JitterPolicy
from taskvisor.sim import get_scenario
from taskvisor.sim._metrics import summarize
from taskvisor.sim._scenario import RunSeeds
from taskvisor.sim._sweep import derive_seed, run_seeds

EQUAL, FULL = JitterPolicy.EQUAL, JitterPolicy.FULL
OUTAGE = {"tasks": 1000, "down": 60.0, "capacity": 100}
SMALL_OUTAGE = {"tasks": 50, "down": 60.0, "capacity": 5}
COMPARISONS = [
    # (scenario, params, (name, policy) of A, (name, policy) of B, metrics)
    (
        "outage",
        OUTAGE,
        ("full", BackoffPolicy(jitter=FULL)),
        ("equal", BackoffPolicy(jitter=EQUAL)),
        ("attempts", "return_peak", "recovery_p50", "recovery_p99"),
    ),
    (
        "outage",
        OUTAGE,
        ("equal max=30", BackoffPolicy(max=30.0, jitter=EQUAL)),
        ("equal max=15", BackoffPolicy(max=15.0, jitter=EQUAL)),
        ("attempts", "return_peak", "recovery_p50", "recovery_p99"),
    ),
    (
        "outage",
        SMALL_OUTAGE,
        ("full", BackoffPolicy(jitter=FULL)),
        ("equal", BackoffPolicy(jitter=EQUAL)),
        ("attempts", "return_peak", "recovery_p50", "recovery_p99"),
    ),
    (
        "flapping",
        {"tasks": 100},
        ("full", BackoffPolicy(jitter=FULL)),
        ("equal", BackoffPolicy(jitter=EQUAL)),
        ("availability", "attempts", "reconnect_p50"),
    ),
    (
        "crashloop",
        {"tasks": 100},
        ("full", BackoffPolicy(jitter=FULL)),
        ("equal", BackoffPolicy(jitter=EQUAL)),
        ("attempts", "exhaust_time", "start_gap"),
    ),
]


def _run(
    scenario: str, params: dict[str, object], policy: BackoffPolicy, seeds: RunSeeds
) -> dict[str, float]:
    sc = get_scenario(scenario)
    return sc.run_fn(sc.resolve(params), policy, seeds, False).metrics


def _seeds(
    scenario: str, params: dict[str, object], policy: BackoffPolicy, run: int, common: bool
) -> RunSeeds:
    resolved = get_scenario(scenario).resolve(params)
    seeds = run_seeds(0, scenario, resolved, policy, run)
    if common:
        return seeds
    # Before per-task streams: the tasks' draws were seeded with the policy as well.
    own = derive_seed(0, scenario, repr(policy), f"run {run}", "tasks")
    return RunSeeds(seeds.world, seeds.policy, own)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    with cf.ProcessPoolExecutor(args.workers) as pool:
        for scenario, params, (a_name, a), (b_name, b), metrics in COMPARISONS:
            futures = {
                (common, which, run): pool.submit(
                    _run, scenario, params, policy, _seeds(scenario, params, policy, run, common)
                )
                for common in (True, False)
                for which, policy in (("a", a), ("b", b))
                for run in range(args.seeds)
            }
            got = {key: f.result() for key, f in futures.items()}
            shown = " ".join(f"{k}={v}" for k, v in params.items())
            print(f"\n{scenario} {shown}: {b_name} - {a_name}, {args.seeds} seeds")
            head = ("metric", "difference", "common ±", "indep. ±", "narrower")
            print("  {:14s} {:>12s} {:>10s} {:>10s} {:>9s}".format(*head))
            for m in metrics:
                est = {}
                for common in (True, False):
                    est[common] = summarize(
                        got[(common, "b", r)][m] - got[(common, "a", r)][m]
                        for r in range(args.seeds)
                    )
                c, i = est[True].ci95, est[False].ci95
                ratio = i / c if c > 0 else math.inf
                print(f"  {m:14s} {est[True].mean:12.4g} {c:10.3g} {i:10.3g} {ratio:8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
