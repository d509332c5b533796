"""``contention``: the optimistic-concurrency experiment of "Exponential Backoff And Jitter".

Owns the model of Marc Brooker's AWS Architecture Blog post (2015) and its published simulator:
N clients start at t = 0 and each must make one successful write to one shared row. An attempt
is four network legs, each ``|Normal(leg, leg_sd)|``: the read travels to the server, the row's
version travels back, the write (carrying that version) travels to the server, which accepts
it only if the version is unchanged (and then increments it), and the reply travels back. The
server is instantaneous. A failed write makes the client back off with its own retry streak
and try again. A *call* is a write that reaches the server; *completion* is when the last
success reply reaches its client.

How it runs fast, exactly: a read changes nothing, so the version a read sees at time ``r`` is
decided by the successful writes before ``r``; a write arriving at ``w`` succeeds iff no write
succeeded in ``(r, w)``. The writes are the only events (one heap entry per call, in time order,
ties in client order; a read sees a write made at the same nanosecond). A failed write at ``w``
schedules the next read at ``w + (reply + request legs) + delay`` and the next write one
``(read reply + write request)`` later: two sums of two legs each (``_draws.Legs``). The delay
is the core's arithmetic (``_retry.RetryTable``, equal to ``fsm._backoff.next_delay_ns``),
drawing one ``random()`` from the run's core stream per jittered delay, as the supervisor
machine does.
Must not import the runtime; does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from heapq import heapify, heappop, heapreplace

from taskvisor.fsm import BackoffPolicy, JitterPolicy
from taskvisor.sim._draws import Legs
from taskvisor.sim._engine import ENTITY_BITS
from taskvisor.sim._metrics import RateCounter
from taskvisor.sim._retry import EQUAL, FULL, NONE, U53, RetryTable
from taskvisor.sim._scenario import (
    Metric,
    Param,
    PolicyDefaults,
    RunResult,
    RunSeeds,
    Scenario,
    Value,
    p_int,
    p_ns,
)

__all__ = ["CONTENTION", "aws_policies"]

_MASK = (1 << ENTITY_BITS) - 1
_RATE_BIN_NS = 100_000_000  # plot resolution: 0.1 s


def aws_policies() -> list[tuple[str, BackoffPolicy]]:
    """The blog's five strategies with its base (5 ms) and cap (2 s), by the blog's names.

    ``exponential`` is ``min(cap, base * 2**attempt)`` with the first retry at attempt = 1,
    i.e. a first delay of 10 ms; ``full`` and ``equal`` jitter that; ``decorrelated`` is
    ``min(cap, uniform(base, 3 * previous))`` starting from previous = base.
    """
    J = JitterPolicy
    return [
        ("none", BackoffPolicy.constant(0)),
        ("exponential", BackoffPolicy.exponential(0.010, factor=2.0, max=2.0)),
        ("full", BackoffPolicy.exponential(0.010, factor=2.0, max=2.0, jitter=J.FULL)),
        ("equal", BackoffPolicy.exponential(0.010, factor=2.0, max=2.0, jitter=J.EQUAL)),
        ("decorrelated", BackoffPolicy(first=0.005, max=2.0, jitter=J.DECORRELATED)),
    ]


def _run(
    params: Mapping[str, Value], policy: BackoffPolicy, seeds: RunSeeds, series: bool
) -> RunResult:
    n = p_int(params, "clients")
    legs = Legs(
        seeds.world_rng(),
        p_ns(params, "leg"),
        p_ns(params, "leg_sd"),
    )
    u = seeds.policy_rng().random
    table = RetryTable.of(policy)
    kind, bases, floor, first, cap = (
        table.kind,
        table.bases,
        table.floor_ns,
        table.first_ns,
        table.max_ns,
    )
    if table.saturated and len(bases) < 1024:
        # Padded past any realistic streak, so the hot loop indexes without a bound check; a
        # longer streak falls back to RetryTable.base (IndexError, below).
        bases = bases + (bases[-1],) * (1024 - len(bases))
    rate = RateCounter(_RATE_BIN_NS, keep=True) if series else None

    read_at = [0] * n  # when each client's current read reached the server
    fails = [0] * n  # failures in each client's streak (its RetryStreak.failures)
    prev = [first] * n  # DECORRELATED's previous raw delay (RetryStreak.prev_ns)
    firsts = legs.singles(n)  # each client's first request leg
    replies = legs.singles(n)  # the success replies, in the order the successes happen
    block = legs.pairs()
    bi, bl = 0, len(block)
    heap: list[int] = []
    for c in range(n):
        l1 = firsts[c]
        if bi == bl:
            block = legs.pairs()
            bi, bl = 0, len(block)
        read_at[c] = l1
        heap.append(((l1 + block[bi]) << ENTITY_BITS) | c)
        bi += 1
    heapify(heap)

    last_ok = -1  # time of the last successful write (a read at that instant sees it)
    done = 0
    shift, mask, u53 = ENTITY_BITS, _MASK, U53
    while True:
        key = heap[0]  # popped below: heapreplace when the client retries (one sift, not two)
        t = key >> shift
        c = key & mask
        if rate is not None:
            rate.add(t)
        if last_ok <= read_at[c]:
            heappop(heap)
            last_ok = t
            end = t + replies[len(heap)]
            if end > done:
                done = end
            if not heap:
                break
            continue
        # The write failed: back off exactly as fsm._backoff.next_delay_ns would (I4).
        f = fails[c]
        fails[c] = f + 1
        try:
            base = bases[f]
        except IndexError:
            base = table.base(f)
        if kind == FULL:
            raw = (base * int(u() * u53)) >> 53
        elif kind == NONE:
            raw = base
        elif kind == EQUAL:
            half = base >> 1
            raw = base - half + ((half * int(u() * u53)) >> 53)
        else:
            high = 3 * prev[c]
            raw = first + (((high - first) * int(u() * u53)) >> 53) if high > first else first
            if raw > cap:
                raw = cap
            prev[c] = raw
        try:
            r = t + block[bi] + (raw if raw > floor else floor)
            w = r + block[bi + 1]
        except IndexError:  # the block is used up: carry its rest over to a fresh one
            block = block[bi:] + legs.pairs()
            bi = 0
            r = t + block[0] + (raw if raw > floor else floor)
            w = r + block[1]
        read_at[c] = r
        heapreplace(heap, (w << shift) | c)
        bi += 2

    calls = n + sum(fails)
    metrics = {"calls": float(calls), "completion": done / 1e9}
    if rate is None:
        return RunResult(metrics)
    rate.finish(done)
    return RunResult(metrics, tuple(rate.series), rate.series_bin_ns, (done / 1e9,))


CONTENTION = Scenario(
    name="contention",
    summary="N clients race to write one row with optimistic concurrency (Brooker, AWS 2015)",
    params=(
        Param("clients", "int", 100, "clients writing the row at once", low=1, high=100_000),
        Param("leg", "float", 0.010, "mean time of one network leg (s)", low=0.0, high=60.0),
        Param("leg_sd", "float", 0.002, "standard deviation of a leg (s)", low=0.0, high=60.0),
    ),
    metrics=(
        Metric("calls", "writes that reached the server, per run"),
        Metric("completion", "when the last client got its success reply (s)"),
    ),
    run_fn=_run,
    policies=PolicyDefaults(first=0.010, max=2.0),
    seeds=20,
    durations="completion time (s)",
)
