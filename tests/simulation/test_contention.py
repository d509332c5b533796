"""``contention``: the AWS 2015 optimistic-concurrency experiment, by hand and by its findings."""

from __future__ import annotations

import pytest

import taskvisor as tv
from taskvisor.sim import aws_policies, simulate

FIXED = {"leg": 0.010, "leg_sd": 0.0}  # every leg exactly 10 ms


def _run(policy: tv.BackoffPolicy, **params: object) -> dict[str, float]:
    return simulate("contention", policy, {**FIXED, **params}).metrics


def test_one_client_makes_one_call_of_four_legs() -> None:
    m = _run(tv.BackoffPolicy.constant(0), clients=1)
    assert m == {"calls": 1.0, "completion": pytest.approx(0.040)}


def test_two_clients_without_backoff_collide_once() -> None:
    # Both read at 10 ms and write at 30 ms: client 0 wins (ties in client order); client 1's
    # write fails, its reply is back at 40 ms, it reads at 50, writes at 70, is done at 80.
    m = _run(tv.BackoffPolicy.constant(0), clients=2)
    assert m == {"calls": 3.0, "completion": pytest.approx(0.080)}


@pytest.mark.parametrize("n", [3, 7, 20])
def test_n_clients_in_lockstep_finish_one_per_round(n: int) -> None:
    m = _run(tv.BackoffPolicy.constant(0), clients=n)
    assert m["calls"] == n * (n + 1) / 2
    assert m["completion"] == pytest.approx(0.040 * n)


def test_the_loser_waits_its_backoff_delay() -> None:
    m = _run(tv.BackoffPolicy.constant(0.005), clients=2)
    assert m == {"calls": 3.0, "completion": pytest.approx(0.085)}


def test_aws_exponential_starts_at_ten_ms_and_doubles() -> None:
    # Three clients in lockstep write at 30 ms; client 0 wins. Clients 1 and 2 get the failure
    # at 40, wait 10 ms, write at 80; client 1 wins. Client 2 gets the failure at 90, waits
    # 20 ms, reads at 120, writes at 140 and has its reply at 150.
    exponential = dict(aws_policies())["exponential"]
    m = _run(exponential, clients=3)
    assert m == {"calls": 6.0, "completion": pytest.approx(0.150)}


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    full = dict(aws_policies())["full"]
    a = simulate("contention", full, {"clients": 30}, seed=1)
    assert a == simulate("contention", full, {"clients": 30}, seed=1)
    assert a != simulate("contention", full, {"clients": 30}, seed=2)


def test_aws_preset_reproduces_the_blog_findings() -> None:
    """Brooker (2015): jitter cuts the work far below plain exponential backoff; no backoff
    at all finishes first but does the most work."""
    calls: dict[str, float] = {}
    completion: dict[str, float] = {}
    for name, policy in aws_policies():
        runs = [simulate("contention", policy, {"clients": 50}, run=r) for r in range(5)]
        calls[name] = sum(r.metrics["calls"] for r in runs) / 5
        completion[name] = sum(r.metrics["completion"] for r in runs) / 5
    for jittered in ("full", "equal", "decorrelated"):
        assert calls[jittered] < 0.7 * calls["exponential"]
    assert calls["none"] == max(calls.values())
    assert completion["none"] == min(completion.values())
    assert completion["exponential"] == max(completion.values())


def test_series_give_rates_and_the_completion_sample() -> None:
    r = simulate("contention", tv.BackoffPolicy.constant(0), {**FIXED, "clients": 5}, series=True)
    assert sum(r.rate) == r.metrics["calls"]
    assert r.durations == (r.metrics["completion"],)
    assert r.rate_bin_ns == 100_000_000
