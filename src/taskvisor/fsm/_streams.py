"""Per-task random streams: each task of a seeded supervisor draws from its own (I8).

The contract: docs/spec/api.md section 8, "Independent random streams".

Owns: ``stream_seed`` (a task's starting state from the supervisor's seed, its name and its
incarnation) and ``next_uniform`` (one draw in [0, 1)). With one stream shared by every task,
adding a task shifts every other task's draws; with a stream per task, adding, removing or
reordering other tasks never changes a task's delays, and a policy comparison in the simulator
gives each task the same draws under every policy (common random numbers).

The generator is SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
generators", OOPSLA 2014): one 64-bit integer of state per task, plain integer arithmetic, the
same on every machine. The starting state is a BLAKE2b hash of the triple, never Python's
``hash()`` of a str (salted per process). Must not import anything that does I/O.
"""

from __future__ import annotations

from hashlib import blake2b

__all__ = ["next_uniform", "stream_seed"]

_M64 = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_TO_UNIT = 2.0**-53  # 53-bit integers map exactly onto floats in [0, 1), as random() does


def stream_seed(seed: int, name: str, incarnation: int) -> int:
    """The starting state of the stream of the ``incarnation``-th task named ``name``.

    ``incarnation`` counts the earlier tasks that had this name (0 for the first). The seed and
    the incarnation are integers, so ``"seed|incarnation|name"`` is unambiguous whatever the
    name contains.

    >>> stream_seed(7, "db", 0) == stream_seed(7, "db", 0) != stream_seed(7, "db", 1)
    True
    """
    text = f"{seed}|{incarnation}|{name}".encode("utf-8", "surrogatepass")
    digest = blake2b(text, digest_size=8, person=b"taskvisor.stream").digest()
    return int.from_bytes(digest, "big")


def next_uniform(state: int) -> tuple[float, int]:
    """One draw in [0, 1) (a multiple of 2**-53, like ``random.random()``) and the next state.

    pre: 0 <= state < 2 ** 64
    post: 0.0 <= __return__[0] < 1.0
    post: 0 <= __return__[1] < 2 ** 64
    """
    state = (state + _GAMMA) & _M64
    z = ((state ^ (state >> 30)) * _MIX1) & _M64
    z = ((z ^ (z >> 27)) * _MIX2) & _M64
    return ((z ^ (z >> 31)) >> 11) * _TO_UNIT, state
