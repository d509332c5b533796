"""Micro-benchmark: ``PMap`` (persistent HAMT) against a plain ``dict`` at 10^5 entries.

Times N persistent sets (each keeping the previous version alive is the caller's choice; here
each new map replaces the old), then N gets, then N deletes, for int keys and str keys, and
prints per-op microseconds and the PMap/dict ratio. Also shows what the naive alternative,
copying a dict per transition, costs per step at full size.

Run: ``python benchmarks/bench_pmap.py`` (``PYTHONPATH=src`` if the package is not installed).
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable, Hashable, Sequence

from taskvisor.fsm._pmap import PMap

N = 100_000
REPEATS = 5


def _best(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    """Best wall time in seconds over ``repeats`` runs, with the GC paused while timing."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        finally:
            gc.enable()
    return best


def _bench_keys(label: str, keys: Sequence[Hashable]) -> None:
    n = len(keys)
    get_order = list(keys)
    random.Random(1).shuffle(get_order)

    def pmap_sets() -> PMap[Hashable, int]:
        m: PMap[Hashable, int] = PMap.empty()
        for i, k in enumerate(keys):
            m = m.set(k, i)
        return m

    def dict_sets() -> dict[Hashable, int]:
        d: dict[Hashable, int] = {}
        for i, k in enumerate(keys):
            d[k] = i
        return d

    full_m = pmap_sets()
    full_d = dict_sets()

    def pmap_gets() -> None:
        get = full_m.__getitem__
        for k in get_order:
            get(k)

    def pmap_gets_sub() -> None:
        m = full_m
        for k in get_order:
            m[k]

    def dict_gets() -> None:
        d = full_d
        for k in get_order:
            d[k]

    def pmap_deletes() -> None:
        m = full_m
        for k in get_order:
            m = m.delete(k)
        assert not m

    def dict_deletes() -> None:
        d = dict(full_d)
        for k in get_order:
            del d[k]

    dict_copy_once = _best(lambda: dict(full_d))
    rows = [
        ("set", _best(pmap_sets), _best(dict_sets)),
        ("get m.__getitem__", _best(pmap_gets), _best(dict_gets)),
        ("get m[k]", _best(pmap_gets_sub), _best(dict_gets)),
        ("delete", _best(pmap_deletes), _best(dict_deletes) - dict_copy_once),
    ]
    print(f"\n{label} keys, n = {n:,}")
    print(f"  {'op':<20}{'PMap µs/op':>12}{'dict µs/op':>12}{'ratio':>9}")
    for op, tp, td in rows:
        up, ud = tp / n * 1e6, td / n * 1e6
        print(f"  {op:<20}{up:>12.3f}{ud:>12.3f}{up / ud:>8.1f}x")
    print(f"  copy-a-dict-per-step at full size: {dict_copy_once * 1e6:,.0f} µs per transition")


def main() -> None:
    ints = list(range(N))
    random.Random(0).shuffle(ints)
    _bench_keys("int", ints)
    _bench_keys("str", [f"task-{i}" for i in range(N)])


if __name__ == "__main__":
    main()
