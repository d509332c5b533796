"""Preview a backoff policy: the delays the core schedules for a run of failures.

Owns: ``backoff_delays`` (docs/spec/api.md section 7), the simulator's smallest entry point. It
draws exactly as the supervisor machine does (``fsm._supervisor._Txn.failure``): one ``random()``
per delay, and only when the policy's jitter needs one (``fsm._backoff.needs_draw``), then
``fsm._backoff.next_delay_ns`` on the task's ``RetryStreak``. Must not import the runtime or do
I/O beyond creating its own ``random.Random``.
"""

from __future__ import annotations

import random

from taskvisor._errors import ConfigError
from taskvisor.fsm import BackoffPolicy, ns_to_s
from taskvisor.fsm._backoff import EMPTY_STREAK, needs_draw, next_delay_ns

__all__ = ["backoff_delays", "backoff_delays_ns"]


def backoff_delays_ns(policy: BackoffPolicy, n: int, seed: int = 0) -> list[int]:
    """Like ``backoff_delays`` but in exact integer nanoseconds, as the core schedules them."""
    if not isinstance(policy, BackoffPolicy):
        raise ConfigError("backoff_delays.policy", f"expected a BackoffPolicy, got {policy!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ConfigError("backoff_delays.n", f"expected an int >= 0, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError("backoff_delays.seed", f"expected an int, got {seed!r}")
    rng = random.Random(seed)
    draws = needs_draw(policy)
    streak = EMPTY_STREAK
    out: list[int] = []
    for _ in range(n):
        # Same order of draws as the supervisor machine: NONE consumes no random number (I8).
        u = rng.random() if draws else 0.0
        delay, streak = next_delay_ns(policy, streak, u)
        out.append(delay)
    return out


def backoff_delays(policy: BackoffPolicy, n: int, seed: int = 0) -> list[float]:
    """The ``n`` delays (float seconds) the core schedules for ``n`` failures in a row.

    Args:
        policy: the backoff policy, as given to ``TaskSpec(backoff=...)``.
        n: how many consecutive failures of one task (>= 0).
        seed: seeds ``random.Random``, the source the core draws jitter from.

    Returns:
        The delay before each retry, first to last; identical to the ``delay`` of the
        ``BACKOFF_SCHEDULED`` events of a task that fails ``n`` times under the same seed.

    Raises:
        ConfigError: ``policy`` is not a ``BackoffPolicy`` or ``n`` is not an int >= 0.

    >>> from taskvisor import BackoffPolicy
    >>> backoff_delays(BackoffPolicy.exponential(0.1, max=0.5), 4)
    [0.1, 0.2, 0.4, 0.5]
    """
    return [ns_to_s(d) for d in backoff_delays_ns(policy, n, seed)]
