"""The restart-intensity window (fsm/_intensity.py): counting, the limit, pruning (I10).

The supervisor machine decides a restart with ``allows(count_within(window, now, within),
max_restarts)`` and then ``record``s it. These tests hold the three functions to a plain model:
a list of every restart time ever, counted afresh at each decision.
"""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from taskvisor import ConfigError, Intensity
from taskvisor.fsm._intensity import allows, count_within, record

S = 10**9


def test_a_restart_counts_while_younger_than_the_window_and_not_at_its_edge() -> None:
    # A restart at r counts at now while now - r < within: at exactly r + within it is out.
    assert count_within([0, 40 * S], 59 * S, 60 * S) == 2
    assert count_within([0, 40 * S], 60 * S, 60 * S) == 1
    assert count_within([0, 40 * S], 100 * S, 60 * S) == 0
    assert count_within([], 5, 1) == 0


def test_allows_exactly_max_restarts_in_a_window() -> None:
    assert [allows(n, 3) for n in range(5)] == [True, True, True, False, False]
    assert not allows(0, 0)  # max_restarts=0: no restart after a failure at all


def test_record_forgets_the_restarts_that_left_the_window() -> None:
    window: deque[int] = deque()
    for t in (0, 10, 30, 70, 80):
        record(window, t * S, 60 * S)
    assert list(window) == [30 * S, 70 * S, 80 * S]  # 0 and 10 were 60 s or more before 70
    record(window, 140 * S, 60 * S)
    assert list(window) == [140 * S]  # 80 is exactly 60 s before: out, like count_within


times = st.lists(st.integers(0, 10**6), max_size=40).map(sorted)


@given(times, st.integers(1, 10**6), st.integers(0, 5))
@example([0, 5, 10], 5, 2)  # restarts exactly one window apart
def test_the_window_decides_like_a_plain_model(
    restarts: list[int], within: int, max_restarts: int
) -> None:
    # Replay decisions at the given times: restart when the window allows it (as failure()
    # does). The kept window must decide exactly as counting over every restart ever made,
    # and never hold more than the restarts one window can hold (rule 7).
    window: deque[int] = deque()
    everything: list[int] = []
    for now in restarts:
        recent = sum(1 for r in everything if now - r < within)
        assert count_within(window, now, within) == recent
        decision = allows(count_within(window, now, within), max_restarts)
        assert decision == (recent + 1 <= max_restarts)
        if decision:
            record(window, now, within)
            everything.append(now)
            assert len(window) <= max_restarts
            assert all(now - r < within for r in window)


@given(st.integers(0, 5), st.integers(1, 10**9), st.integers(0, 10**12))
def test_at_most_max_restarts_restarts_lie_within_any_window(
    max_restarts: int, within: int, step: int
) -> None:
    # I10 over a long run of failures at a constant spacing: however the spacing compares with
    # the window, at most max_restarts restarts ever lie within one window.
    window: deque[int] = deque()
    made: list[int] = []
    for k in range(30):
        now = k * step
        if allows(count_within(window, now, within), max_restarts):
            record(window, now, within)
            made.append(now)
    for i, start in enumerate(made):
        assert sum(1 for r in made[i:] if r - start < within) <= max_restarts


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((-1, 60.0), "Intensity.max_restarts"),
        ((True, 60.0), "Intensity.max_restarts"),
        ((3, 0.0), "Intensity.within"),
        ((3, -1.0), "Intensity.within"),
    ],
)
def test_a_bad_intensity_names_its_field(args: tuple[object, float], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        Intensity(*args)  # type: ignore[arg-type]
