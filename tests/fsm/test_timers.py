"""Tests for ``taskvisor.fsm._timers.TimerHeap``: a persistent min-heap checked against heapq."""

from __future__ import annotations

import heapq

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskvisor.fsm._timers import TimerHeap

# ("push", deadline) or ("pop", 0); tokens are assigned in push order, as the supervisor does.
ops = st.lists(
    st.one_of(st.tuples(st.just("push"), st.integers(0, 20)), st.just(("pop", 0))),
    max_size=200,
)


@given(ops)
def test_heap_matches_heapq(script: list[tuple[str, int]]) -> None:
    heap: TimerHeap[str] = TimerHeap()
    model: list[tuple[int, int, str]] = []
    token = 0
    for op, deadline in script:
        if op == "push":
            heap = heap.push(deadline, token, f"item{token}")
            heapq.heappush(model, (deadline, token, f"item{token}"))
            token += 1
        elif model:
            heap = heap.pop()
            heapq.heappop(model)
        assert len(heap) == len(model)
        assert heap.peek() == (model[0] if model else None)


@given(st.lists(st.integers(0, 5), max_size=100))
def test_pop_order_is_deadline_then_token(deadlines: list[int]) -> None:
    heap: TimerHeap[int] = TimerHeap()
    for token, deadline in enumerate(deadlines):
        heap = heap.push(deadline, token, token)
    order = []
    while (top := heap.peek()) is not None:
        order.append(top)
        heap = heap.pop()
    assert order == sorted((d, t, t) for t, d in enumerate(deadlines))


def test_ties_break_fifo_on_the_token() -> None:
    heap: TimerHeap[str] = TimerHeap()
    for token, item in enumerate("abc"):
        heap = heap.push(10, token, item)
    items = []
    while (top := heap.peek()) is not None:
        items.append(top[2])
        heap = heap.pop()
    assert items == ["a", "b", "c"]


@given(ops, ops)
def test_every_version_stays_valid_and_unchanged(first: list, second: list) -> None:
    # Build a heap, keep it, grow a second heap from it: the kept one must not change.
    def run(heap: TimerHeap[int], script: list, token: int) -> tuple[TimerHeap[int], int]:
        for op, deadline in script:
            if op == "push":
                heap, token = heap.push(deadline, token, token), token + 1
            elif heap.peek() is not None:
                heap = heap.pop()
        return heap, token

    def drain(heap: TimerHeap[int]) -> list[tuple[int, int, int]]:
        out = []
        while (top := heap.peek()) is not None:
            out.append(top)
            heap = heap.pop()
        return out

    kept, token = run(TimerHeap(), first, 0)
    before = drain(kept)
    run(kept, second, token)
    run(kept, second, token + 1000)
    assert drain(kept) == before
    assert len(kept) == len(before)


def test_pop_on_an_empty_heap_raises() -> None:
    with pytest.raises(IndexError):
        TimerHeap().pop()


def test_empty_heap() -> None:
    heap: TimerHeap[int] = TimerHeap()
    assert heap.peek() is None
    assert len(heap) == 0
    assert repr(heap) == "TimerHeap(size=0, next=None)"


def test_identity_equality_and_repr() -> None:
    a = TimerHeap().push(5, 0, "x")
    b = TimerHeap().push(5, 0, "x")
    assert a == a
    assert a != b  # heaps compare by identity: the state compares them by reference
    assert hash(a) == id(a)
    assert repr(a) == "TimerHeap(size=1, next=(5, 0, 'x'))"
