"""The retry budget: when a failure streak has used up ``max_retries`` (docs/spec/api.md section 3).

Owns: ``exhausted``, the one rule for the budget, as plain integer arithmetic with PEP 316
contracts that CrossHair checks (``tools/contracts.py``). The supervisor machine calls it after
each retryable failure. Must not import anything (it is a leaf).
"""

from __future__ import annotations

__all__ = ["exhausted"]


def exhausted(failures: int, max_retries: int | None) -> bool:
    """Whether a streak of ``failures`` failed attempts in a row leaves no retry.

    ``max_retries = N`` allows N retries after the first failed attempt of a streak: N+1
    failing attempts in a row, then the task ends ``FAILED`` (None: unlimited).

    pre: failures >= 1
    pre: max_retries is None or max_retries >= 1
    post: max_retries is not None or not __return__
    post: __return__ == (max_retries is not None and failures >= max_retries + 1)
    post: failures > 1 or not __return__
    """
    if max_retries is None:
        return False
    retries_used = failures - 1  # the first failure of a streak is not a retry
    return retries_used >= max_retries
