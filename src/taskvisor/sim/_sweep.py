"""Sweeps: scenarios × parameters × policies × seeds, on any ``concurrent.futures.Executor``.

Owns: ``sweep``, ``simulate`` (one run), the per-run seed derivation and the aggregation of
runs into ``Row``s (mean and 95% interval of each metric over seeds).

Results do not depend on how the work was split: every run's seeds are derived from the root
seed and the run's identity alone (``derive_seed``: BLAKE2b of ``root|scenario|params|...|run``,
no global state, no numpy), each run is computed whole by one worker, and the aggregation sorts
runs by index and sums with ``math.fsum``. So in-process, one worker, two workers, or a Dask or
Ray executor give the same numbers, bit for bit. Must not import the runtime.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import itertools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from taskvisor._errors import ConfigError
from taskvisor.fsm import BackoffPolicy
from taskvisor.sim._metrics import Estimate, summarize
from taskvisor.sim._registry import SCENARIOS, get_scenario
from taskvisor.sim._scenario import RunResult, RunSeeds, Scenario, Value

__all__ = ["Row", "derive_seed", "run_seeds", "simulate", "sweep"]

Progress = Callable[[int, int], None]


def derive_seed(root: int, *parts: str) -> int:
    """A 64-bit seed from the root seed and a run's identity (stable across processes)."""
    text = "|".join((str(root), *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def _params_key(params: Mapping[str, Value]) -> str:
    return ",".join(f"{k}={params[k]!r}" for k in sorted(params))


def run_seeds(
    root: int, scenario: str, params: Mapping[str, Value], policy: BackoffPolicy, run: int
) -> RunSeeds:
    """The seeds of run ``run``.

    They derive from the root seed, the scenario, its parameters and the run index; the
    shared stream's seed also from the policy's *value* (not the name it is given). The world's
    seed ignores the policy: every policy meets the same world in run ``run``. The tasks'
    streams depend on the run alone: in run ``run`` each task draws the same numbers under
    every policy and every parameter set (common random numbers, see ``Row.diff``).
    """
    key = _params_key(params)
    return RunSeeds(
        world=derive_seed(root, scenario, key, f"run {run}", "world"),
        policy=derive_seed(root, scenario, key, repr(policy), f"run {run}", "policy"),
        tasks=derive_seed(root, scenario, f"run {run}", "tasks"),
    )


def simulate(
    scenario: str | Scenario,
    policy: BackoffPolicy,
    params: Mapping[str, object] | None = None,
    *,
    seed: int = 0,
    run: int = 0,
    series: bool = False,
) -> RunResult:
    """One run of ``scenario`` with ``policy``: the same numbers as run ``run`` of a ``sweep``
    with root seed ``seed`` (whatever the policy is called there)."""
    sc = get_scenario(scenario)
    resolved = sc.resolve(params)
    return sc.run(policy, run_seeds(seed, sc.name, resolved, policy, run), resolved, series=series)


@attrs.frozen
class Row:
    """One cell of a sweep: a scenario, its parameters and a policy, over every seed.

    Attributes:
        scenario: the scenario's name.
        policy: the policy's name.
        params: every parameter's value.
        metrics: each metric's ``Estimate`` (mean, 95% half-width, runs with a value).
        seeds: how many runs.
        rate: mean attempts per second in each bin of ``rate_bin`` seconds (with series).
        rate_bin: the width of a ``rate`` bin, seconds.
        durations: the completion-type samples of every run, pooled (with series).
        diff: each metric's difference from the sweep's first row of the same scenario, paired
            run by run (mean and 95% half-width of the per-run differences). Run ``r`` of every
            row gives each task the same random draws, so the pairing cancels most of the
            noise: a difference is measured far more sharply than the two means it separates.
    """

    scenario: str
    policy: str
    params: dict[str, Value]
    metrics: dict[str, Estimate]
    seeds: int
    rate: tuple[float, ...] = ()
    rate_bin: float = 0.0
    durations: tuple[float, ...] = ()
    diff: dict[str, Estimate] = attrs.field(factory=dict)


@attrs.frozen
class _Unit:
    cell: int
    run: int
    scenario: str
    params: dict[str, Value]
    policy: BackoffPolicy
    seeds: RunSeeds
    series: bool


def _run_units(units: Sequence[_Unit]) -> list[tuple[int, int, RunResult]]:
    """Worker side: run each unit whole (module-level, so it pickles by reference)."""
    out = []
    for u in units:
        sc = SCENARIOS[u.scenario]
        out.append((u.cell, u.run, sc.run_fn(u.params, u.policy, u.seeds, u.series)))
    return out


def _grid(sc: Scenario, params: Mapping[str, object]) -> list[dict[str, Value]]:
    """Every combination of the given values (a list or tuple sweeps that parameter)."""
    names, choices = [], []
    for name, value in params.items():
        sc.param(name)  # unknown names fail here, naming the parameter
        names.append(name)
        choices.append(list(value) if isinstance(value, list | tuple) else [value])
    return [
        sc.resolve(dict(zip(names, combo, strict=True))) for combo in itertools.product(*choices)
    ]


def _policy_list(
    policies: Mapping[str, BackoffPolicy] | Iterable[tuple[str, BackoffPolicy]],
) -> list[tuple[str, BackoffPolicy]]:
    items = list(policies.items() if isinstance(policies, Mapping) else policies)
    seen: set[str] = set()
    for name, policy in items:
        if not isinstance(policy, BackoffPolicy):
            raise ConfigError(f"policies[{name!r}]", f"expected a BackoffPolicy, got {policy!r}")
        if name in seen:
            raise ConfigError("policies", f"two policies are called {name!r}")
        seen.add(name)
    if not items:
        raise ConfigError("policies", "no policy to simulate")
    return items


def _combine_rates(results: Sequence[RunResult]) -> tuple[tuple[float, ...], float]:
    with_rate = [r for r in results if r.rate_bin_ns]
    if not with_rate:
        return (), 0.0
    width = max(r.rate_bin_ns for r in with_rate)
    rebinned: list[list[int]] = []
    for r in with_rate:
        k = width // r.rate_bin_ns
        rebinned.append([sum(r.rate[i : i + k]) for i in range(0, len(r.rate), k)])
    length = max(len(s) for s in rebinned)
    seconds = width / 1e9
    mean = tuple(
        sum(s[i] if i < len(s) else 0 for s in rebinned) / len(rebinned) / seconds
        for i in range(length)
    )
    return mean, seconds


def sweep(
    scenarios: str | Scenario | Sequence[str | Scenario],
    policies: Mapping[str, BackoffPolicy] | Iterable[tuple[str, BackoffPolicy]] | None = None,
    params: Mapping[str, object] | None = None,
    *,
    seeds: int | None = None,
    root_seed: int = 0,
    executor: cf.Executor | None = None,
    workers: int | None = None,
    series: bool = False,
    progress: Progress | None = None,
) -> list[Row]:
    """Run every scenario × parameter combination × policy × seed; one ``Row`` per cell.

    Args:
        scenarios: a scenario (name or ``Scenario``) or several.
        policies: ``{name: BackoffPolicy}`` or ``[(name, policy), ...]``; None: each scenario's
            default comparison (one policy per jitter).
        params: parameter values; a list or tuple sweeps that parameter. With several
            scenarios, a mapping from scenario name to its parameters.
        seeds: runs per cell (default: the scenario's own default).
        root_seed: every run's seeds derive from it and the run's identity.
        executor: any ``concurrent.futures.Executor`` (e.g. a Dask or Ray one); not shut down.
        workers: without ``executor``: processes of a ``ProcessPoolExecutor`` (None: one per
            CPU); 0 runs everything in this process.
        series: also collect attempt rates over time and duration samples (for plots).
        progress: called with ``(runs done, runs in total)`` as work completes.

    Returns:
        The rows, in the order scenarios × parameter combinations × policies.
    """
    if isinstance(scenarios, str | Scenario):
        scenarios = [scenarios]
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise ConfigError("seeds", f"must be an int >= 1, got {seeds!r}")
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 0
    ):
        raise ConfigError("workers", f"must be an int >= 0, got {workers!r}")
    chosen = [get_scenario(s) for s in scenarios]
    per_scenario = bool(params) and all(k in SCENARIOS for k in params or {})
    cells: list[tuple[Scenario, dict[str, Value], str, BackoffPolicy, int]] = []
    for sc in chosen:
        given: Mapping[str, object] = params or {}
        if per_scenario:
            sub = given.get(sc.name) or {}
            if not isinstance(sub, Mapping):
                raise ConfigError(f"params[{sc.name!r}]", f"expected a mapping, got {sub!r}")
            given = sub
        plist = _policy_list(sc.policies.policies() if policies is None else policies)
        n = sc.seeds if seeds is None else seeds
        for combo in _grid(sc, given):
            for pname, policy in plist:
                sc.check_fn(combo, policy)
                cells.append((sc, combo, pname, policy, n))
    units = [
        _Unit(i, r, sc.name, combo, policy, run_seeds(root_seed, sc.name, combo, policy, r), series)
        for i, (sc, combo, pname, policy, n) in enumerate(cells)
        for r in range(n)
    ]
    results = _execute(units, executor, workers, progress)
    by_cell: dict[int, list[tuple[int, RunResult]]] = {}
    for cell, run, res in results:
        by_cell.setdefault(cell, []).append((run, res))
    rows = []
    first: dict[str, list[RunResult]] = {}  # each scenario's first row: what ``diff`` is from
    for i, (sc, combo, pname, _policy, n) in enumerate(cells):
        runs = [res for _, res in sorted(by_cell[i], key=lambda x: x[0])]
        metrics = {m.name: summarize(r.metrics[m.name] for r in runs) for m in sc.metrics}
        rate, rate_bin = _combine_rates(runs) if series else ((), 0.0)
        durations = tuple(
            itertools.islice(itertools.chain.from_iterable(r.durations for r in runs), 50_000)
        )
        base = first.setdefault(sc.name, runs)
        diff = {
            m.name: summarize(
                r.metrics[m.name] - b.metrics[m.name] for r, b in zip(runs, base, strict=False)
            )
            for m in sc.metrics
        }
        rows.append(Row(sc.name, pname, combo, metrics, n, rate, rate_bin, durations, diff))
    return rows


def _execute(
    units: list[_Unit],
    executor: cf.Executor | None,
    workers: int | None,
    progress: Progress | None,
) -> list[tuple[int, int, RunResult]]:
    total = len(units)
    out: list[tuple[int, int, RunResult]] = []
    if executor is None and workers == 0:
        for u in units:
            out.extend(_run_units([u]))
            if progress is not None:
                progress(len(out), total)
        return out
    own = executor is None
    n_workers = workers or os.cpu_count() or 1
    pool = cf.ProcessPoolExecutor(max_workers=n_workers) if executor is None else executor
    # About four chunks per worker keeps them busy without paying for a round trip per run.
    size = max(1, total // (4 * n_workers))
    chunks = [units[i : i + size] for i in range(0, total, size)]
    try:
        futures = [pool.submit(_run_units, chunk) for chunk in chunks]
        for fut in cf.as_completed(futures):
            out.extend(fut.result())
            if progress is not None:
                progress(len(out), total)
    finally:
        if own:
            pool.shutdown(cancel_futures=True)
    return out
