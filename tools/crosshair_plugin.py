"""CrossHair plugin: how to build symbolic ``BackoffPolicy`` values (used by tools/contracts.py).

``BackoffPolicy.__init__`` parses floats, timedeltas and ``Fraction`` s, which CrossHair cannot
explore in time ("Unable to meet precondition"). The arithmetic in ``_backoff`` reads only the
integer fields, so this factory builds a policy straight from symbolic integers, covering every
value ``__init__`` can produce and more: ``0 <= first_ns <= max_ns``, ``floor_ns >= 0``, any
fixed-point factor ``>= 1`` (not only those of a float) and any ``JitterPolicy``. The float
fields are placeholders (NaN) and play no part in the arithmetic; counterexamples print the
integer fields.
"""

from __future__ import annotations

from typing import Any

from crosshair import register_type

from taskvisor.fsm._policy import BackoffPolicy


def _policy(factory: Any) -> BackoffPolicy:
    # Imported here: CrossHair runs a plugin with separate globals and locals, so names
    # imported at the top are not visible inside functions.
    from crosshair.tracers import ResumedTracing

    from taskvisor.fsm._policy import FIXED_POINT_BITS, BackoffPolicy, JitterPolicy

    class SymbolicBackoffPolicy(BackoffPolicy):
        __slots__ = ()

        def __repr__(self) -> str:
            return (
                f"BackoffPolicy(first_ns={self.first_ns}, max_ns={self.max_ns}, "
                f"floor_ns={self.floor_ns}, factor={self.factor_fixed}/2**{FIXED_POINT_BITS}, "
                f"jitter={self.jitter})"
            )

    first = factory(int, "_first")
    extra = factory(int, "_extra")
    floor = factory(int, "_floor")
    factor_extra = factory(int, "_factor_extra")
    jitter = factory(JitterPolicy, "_jitter")
    # Absolute values, not preconditions: every symbolic draw is a valid policy, no rejections.
    # (A creator runs with tracing off; arithmetic on symbolic values needs it on.)
    with ResumedTracing():  # type: ignore[no-untyped-call]
        first, cap, floor = abs(first), abs(first) + abs(extra), abs(floor)
        fixed = (1 << FIXED_POINT_BITS) + abs(factor_extra)
    nan = float("nan")
    policy = object.__new__(SymbolicBackoffPolicy)
    policy.__attrs_init__(nan, nan, nan, jitter, nan, first, cap, floor, fixed)
    return policy


register_type(BackoffPolicy, _policy)
