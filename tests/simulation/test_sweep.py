"""``sweep``: the same seed gives the same numbers however the work is split."""

from __future__ import annotations

import concurrent.futures as cf
import math

import pytest

import taskvisor as tv
from taskvisor.sim import Row, aws_policies, derive_seed, run_seeds, simulate, sweep

SMALL = {"clients": [5, 20]}


def _numbers(rows: list[Row]) -> list[tuple[object, ...]]:
    return [
        (r.scenario, r.policy, tuple(sorted(r.params.items())), tuple(sorted(r.metrics.items())))
        for r in rows
    ]


def test_in_process_one_worker_and_two_workers_agree_exactly() -> None:
    kw = {"seeds": 6, "root_seed": 11}
    inline = sweep("contention", aws_policies(), SMALL, workers=0, **kw)
    one = sweep("contention", aws_policies(), SMALL, workers=1, **kw)
    two = sweep("contention", aws_policies(), SMALL, workers=2, **kw)
    assert _numbers(inline) == _numbers(one) == _numbers(two)
    assert len(inline) == 2 * 5


def test_any_executor_gives_the_same_numbers() -> None:
    params = {"tasks": 30, "down": 5.0}
    inline = sweep("outage", None, params, seeds=4, workers=0)
    with cf.ThreadPoolExecutor(3) as pool:
        threaded = sweep("outage", None, params, seeds=4, executor=pool)
    assert _numbers(inline) == _numbers(threaded)


def test_a_run_of_a_sweep_is_reproducible_alone() -> None:
    policies = aws_policies()
    rows = sweep("contention", policies, {"clients": 8}, seeds=3, root_seed=7, workers=0)
    full = dict(policies)["full"]
    runs = [simulate("contention", full, {"clients": 8}, seed=7, run=r) for r in range(3)]
    mean = sum(r.metrics["calls"] for r in runs) / 3
    row = next(r for r in rows if r.policy == "full")
    assert row.metrics["calls"].mean == pytest.approx(mean)
    assert row.metrics["calls"].n == 3


def test_seeds_depend_on_the_run_not_on_the_split() -> None:
    full = tv.BackoffPolicy(jitter=tv.JitterPolicy.FULL)
    none = tv.BackoffPolicy(jitter=tv.JitterPolicy.NONE)
    a = run_seeds(1, "outage", {"tasks": 5}, full, 3)
    assert a == run_seeds(
        1, "outage", {"tasks": 5}, tv.BackoffPolicy(jitter=tv.JitterPolicy.FULL), 3
    )
    assert a.world == run_seeds(1, "outage", {"tasks": 5}, none, 3).world  # common world
    assert a.policy != run_seeds(1, "outage", {"tasks": 5}, none, 3).policy
    assert a != run_seeds(1, "outage", {"tasks": 5}, full, 4)
    assert derive_seed(0, "x") != derive_seed(1, "x")


def test_rows_follow_parameters_then_policies_with_intervals() -> None:
    rows = sweep("contention", aws_policies(), SMALL, seeds=3, workers=0)
    assert [(r.params["clients"], r.policy) for r in rows[:6]] == [
        (5, "none"),
        (5, "exponential"),
        (5, "full"),
        (5, "equal"),
        (5, "decorrelated"),
        (20, "none"),
    ]
    assert all(r.seeds == 3 and not math.isnan(r.metrics["calls"].ci95) for r in rows)


def test_a_policy_gives_the_same_numbers_whatever_it_is_called() -> None:
    policy = tv.BackoffPolicy(jitter=tv.JitterPolicy.FULL)
    a = sweep("outage", {"a": policy}, {"tasks": 10, "down": 5.0}, seeds=2, workers=0)
    b = sweep("outage", [("b", policy)], {"tasks": 10, "down": 5.0}, seeds=2, workers=0)
    assert a[0].metrics == b[0].metrics


def test_several_scenarios_take_their_own_parameters() -> None:
    rows = sweep(
        ["contention", "crashloop"],
        {"plain": tv.BackoffPolicy.constant(0.01)},
        {"contention": {"clients": 3}, "crashloop": {"tasks": 2, "p": 1.0, "max_retries": 2}},
        seeds=2,
        workers=0,
    )
    assert [r.scenario for r in rows] == ["contention", "crashloop"]
    assert rows[1].metrics["attempts"].mean == 6


def test_series_are_averaged_over_seeds() -> None:
    rows = sweep("outage", None, {"tasks": 20, "down": 3.0}, seeds=3, workers=0, series=True)
    for r in rows:
        assert r.rate_bin == 1.0
        assert sum(r.rate) * r.rate_bin == pytest.approx(r.metrics["attempts"].mean)
        assert len(r.durations) == 3 * 20


def test_progress_is_reported() -> None:
    seen: list[tuple[int, int]] = []
    sweep(
        "contention",
        aws_policies(),
        {"clients": 3},
        seeds=2,
        workers=0,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen[-1] == (10, 10)


def test_bad_arguments_name_what_was_wrong() -> None:
    with pytest.raises(tv.ConfigError, match="clients"):
        sweep("contention", None, {"clients": 0}, workers=0)
    with pytest.raises(tv.ConfigError, match="no parameter 'tasks'"):
        sweep("contention", None, {"tasks": 3}, workers=0)
    with pytest.raises(tv.ConfigError, match="seeds"):
        sweep("contention", None, seeds=0)
    with pytest.raises(tv.ConfigError, match="unknown scenario"):
        sweep("nope")
    with pytest.raises(tv.ConfigError, match="policies"):
        sweep("contention", {"x": 0.5}, workers=0)  # type: ignore[dict-item]


def test_parameter_errors_survive_a_trip_through_a_worker() -> None:
    import pickle

    from taskvisor.sim import ParamError

    err = pickle.loads(pickle.dumps(ParamError("clients", "{clients} must be ...")))
    assert (err.param, str(err)) == ("clients", "clients must be ...")
    assert err.for_command_line() == "--clients must be ..."


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sweep("outage", None, {"tasks": 0}, workers=0), "tasks must be an integer in"),
        (
            lambda: sweep("contention", None, {"leg_sd": -1.0}, workers=0),
            "leg_sd must be a number in [0, 60], got -1.0",
        ),
        (
            lambda: sweep("crashloop", None, {"run": 0, "restart": "always"}, workers=0),
            "run must be > 0 under restart always with interval 0",
        ),
        (
            lambda: sweep("flapping", {"x": tv.BackoffPolicy.constant(0)}, {"latency": 0}),
            "latency must be > 0 when the backoff never waits",
        ),
    ],
)
def test_errors_raised_to_python_callers_name_the_python_parameter(
    call: object, message: str
) -> None:
    assert callable(call)
    with pytest.raises(tv.ConfigError) as info:
        call()
    assert str(info.value).startswith(message)
    assert "--" not in str(info.value)


def test_diff_pairs_each_row_with_the_first_seed_by_seed() -> None:
    rows = sweep(
        "outage",
        {"full": tv.BackoffPolicy(jitter=tv.JitterPolicy.FULL), "equal": tv.BackoffPolicy()},
        {"tasks": 200, "down": 20.0, "capacity": 20},
        seeds=6,
        workers=0,
    )
    first, second = rows
    assert all(e.mean == 0 and e.ci95 == 0 for e in first.diff.values())
    d = second.diff["attempts"]
    assert d.mean == pytest.approx(second.metrics["attempts"].mean - first.metrics["attempts"].mean)
    assert d.n == 6


def test_task_streams_depend_on_the_run_only_so_every_row_shares_them() -> None:
    a = run_seeds(0, "outage", {"tasks": 1}, tv.BackoffPolicy(), 3)
    b = run_seeds(0, "outage", {"tasks": 2}, tv.BackoffPolicy(max=5.0), 3)
    assert a.tasks == b.tasks
    assert a.policy != b.policy  # the shared stream of contention still depends on the policy
    assert run_seeds(0, "outage", {"tasks": 1}, tv.BackoffPolicy(), 4).tasks != a.tasks
