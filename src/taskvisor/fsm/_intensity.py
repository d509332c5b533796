"""Restart intensity (Erlang/OTP's ``intensity``/``period``): how many restarts a window allows.

Owns: ``Intensity`` (the public value) and the window arithmetic the supervisor machine uses for
a task's own limit and for the supervisor-wide one (docs/spec/api.md section 8, invariant I10).
A window is a ``deque`` of the times (integer ns) of the restarts that followed a failure; a
restart at ``r`` still counts at ``now`` while ``now - r < within``. The functions are plain
integer arithmetic with PEP 316 contracts that CrossHair checks (``tools/contracts.py``). Must
not import anything that does I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import attrs

from taskvisor._errors import ConfigError
from taskvisor.fsm._duration import Duration, ns_to_s, to_ns

__all__ = ["Intensity", "allows", "count_within", "record"]


@attrs.frozen(init=False)
class Intensity:
    """At most ``max_restarts`` restarts after failures within any ``within`` seconds.

    Attributes:
        max_restarts: restarts allowed in the window (0: none at all).
        within: the window, in seconds.
    """

    max_restarts: int
    within: float
    within_ns: int = attrs.field(eq=False, repr=False)

    def __init__(self, max_restarts: int, within: Duration) -> None:
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int):
            raise ConfigError("Intensity.max_restarts", f"expected an int, got {max_restarts!r}")
        if max_restarts < 0:
            raise ConfigError("Intensity.max_restarts", f"must be >= 0, got {max_restarts!r}")
        within_ns = to_ns(within, "Intensity.within")
        if within_ns == 0:
            raise ConfigError("Intensity.within", "must be positive")
        self.__attrs_init__(max_restarts, ns_to_s(within_ns), within_ns)


def count_within(times: Sequence[int], now: int, within_ns: int) -> int:
    """How many of ``times`` (ascending, none after ``now``) lie in ``(now - within_ns, now]``.

    pre: within_ns > 0
    pre: all(t <= now for t in times)
    pre: all(a <= b for a, b in zip(times, times[1:]))
    post: 0 <= __return__ <= len(times)
    post: __return__ == sum(1 for t in times if now - t < within_ns)
    """
    count = 0
    for t in reversed(times):
        if now - t >= within_ns:
            break
        count += 1
    return count


def allows(count: int, max_restarts: int) -> bool:
    """Whether one more restart keeps the window within ``max_restarts`` (I10).

    pre: count >= 0
    pre: max_restarts >= 0
    post: __return__ == (count + 1 <= max_restarts)
    """
    return count < max_restarts


def record(window: deque[int], now: int, within_ns: int) -> None:
    """Add a restart at ``now`` and forget the ones that left the window (memory stays bounded
    by the restarts one window holds, rule 7).

    pre: within_ns > 0
    pre: all(t <= now for t in window)
    pre: all(window[i] <= window[i + 1] for i in range(len(window) - 1))
    post: window[-1] == now
    post: len(window) == count_within(list(__old__.window), now, within_ns) + 1
    post: all(now - t < within_ns for t in list(window)[:-1])
    """
    while window and now - window[0] >= within_ns:
        window.popleft()
    window.append(now)
