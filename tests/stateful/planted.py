"""Bugs planted in the core, to show that the checks bite (docs/model-checking.md).

A planted bug is a text edit of one function of the core: ``plant`` recompiles the function
with ``old`` replaced by ``new`` (each must occur exactly once, so a bug that no longer applies
fails loudly instead of planting nothing) and puts it in place of the original until the
``with`` block ends. Every driver of the core (``fsm.step``, ``CheckedCore``, the machines,
``explore``) then runs the bug. To add one for a new control, add a ``PlantedBug`` to ``BUGS``
with the function (``"module:Class.method"``) and the smallest edit that breaks it.
"""

from __future__ import annotations
import __future__

import importlib
import inspect
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import pytest


@attrs.frozen
class PlantedBug:
    """One bug: where it goes (``"module:Class.function"``), and the edit that plants it."""

    name: str
    target: str
    old: str
    new: str


@contextmanager
def plant(bug: PlantedBug) -> Iterator[None]:
    """Run the core with ``bug`` planted inside the block."""
    module_name, qualname = bug.target.split(":")
    module = importlib.import_module(module_name)
    if any("mutmut" in name for name in vars(module)):
        # tools/mutation.py runs these suites on a core that mutmut rewrote into trampolines:
        # an edit of the original source would plant nothing there.
        pytest.skip("the core is rewritten by mutmut: a planted bug cannot be planted")
    *path, attr = qualname.split(".")
    owner: Any = module
    for part in path:
        owner = getattr(owner, part)
    original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
    source = inspect.getsource(original)  # indented as in the file: edits match it as is
    count = source.count(bug.old)
    if count != 1:
        raise AssertionError(f"{bug.name}: {bug.old!r} occurs {count} times in {bug.target}")
    edited = textwrap.dedent(source.replace(bug.old, bug.new))
    flags = __future__.annotations.compiler_flag
    code = compile(edited, f"<planted: {bug.name}>", "exec", flags, dont_inherit=True)
    namespace: dict[str, Any] = {}
    exec(code, vars(module), namespace)
    setattr(owner, attr, namespace[attr])
    try:
        yield
    finally:
        setattr(owner, attr, original)


_TXN = "taskvisor.fsm._supervisor:_Txn"

#: The four bugs of the proof-suites round (each was caught by the stateful machines).
SLOT_FREED_ON_REPLY = PlantedBug(
    "slot freed on the removal reply",
    f"{_TXN}.remove",
    "        self.effects.append(RemoveReply(inp.ticket, True, t.id))\n",
    "        self.effects.append(RemoveReply(inp.ticket, True, t.id))\n"
    "        if t.id in s.slot_of:\n"
    "            self.owner_gone(t.id)\n",
)
BACKOFF_1NS_EARLY = PlantedBug(
    "backoff deadline 1 ns early",
    f"{_TXN}.failure",
    "Phase.BACKOFF, now + delay)",
    "Phase.BACKOFF, now + delay - 1)",
)
ONE_RETRY_SHORT = PlantedBug(
    "one retry short",
    f"{_TXN}.ends_streak",
    "elif exhausted(failures, policy.max_retries):",
    "elif exhausted(failures + 1, policy.max_retries):",
)
PERMITS_NEWEST_FIRST = PlantedBug(
    "run permits started newest-first",
    f"{_TXN}.release_permit",
    "            token = s.ready_head\n"
    "            tid = ready.pop(token)\n"
    "            s.ready_head += 1\n",
    "            token = s.ready_tail - 1\n"
    "            tid = ready.pop(token)\n"
    "            s.ready_tail -= 1\n",
)

#: A restart control (issue 10): a task's restart intensity lets one restart too many through.
INTENSITY_ONE_TOO_MANY = PlantedBug(
    "task intensity allows one restart too many",
    f"{_TXN}.ends_streak",
    "            policy.intensity.max_restarts,\n",
    "            policy.intensity.max_restarts + 1,\n",
)

#: Another (issue 10): the healthy-run reset needs a run twice as long as ``reset_after``.
RESET_NEEDS_TWICE = PlantedBug(
    "healthy-run reset needs twice reset_after",
    f"{_TXN}.failure",
    "now - t.started_at >= reset:",
    "now - t.started_at >= 2 * reset:",
)

#: Retry shaping (issue 12): a restart waiting for a budget token starts 1 ns before it arrives.
TOKEN_1NS_EARLY = PlantedBug(
    "budget token granted 1 ns early",
    "taskvisor.fsm._retry_budget:Bucket.take",
    "        return wait\n",
    "        return wait - 1 if wait else 0\n",
)
#: A Retry-After capped by the backoff's ``max`` like a backoff delay.
RETRY_AFTER_CAPPED = PlantedBug(
    "Retry-After capped by max",
    f"{_TXN}.failure",
    "failure_pause(backoff, streak, u, retry_after)",
    "failure_pause(backoff, streak, u, None if retry_after is None else "
    "min(retry_after, backoff.max_ns))",
)
#: A restart after a Retry-After takes no budget token.
RETRY_AFTER_SKIPS_BUDGET = PlantedBug(
    "restart after a Retry-After takes no token",
    f"{_TXN}.wait_for_token",
    "if source is not BackoffSource.FAILURE and source is not BackoffSource.RETRY_AFTER:",
    "if source is not BackoffSource.FAILURE:",
)

#: Liveness bugs no state or step check sees: a core that waits forever.
SHUTDOWN_OF_NOTHING_HANGS = PlantedBug(
    "shutdown with no task never completes",
    f"{_TXN}.begin_shutdown",
    "        if not self.tasks and not sd.done:\n            self.complete_shutdown()\n",
    "",
)
REMOVAL_IN_BACKOFF_IGNORED = PlantedBug(
    "a removal of a task in backoff is acknowledged but does nothing",
    f"{_TXN}.remove",
    "        self.cancel(t, CancelCause.REMOVE)\n",
    "        if t.phase is not Phase.BACKOFF:\n            self.cancel(t, CancelCause.REMOVE)\n",
)

BUGS = (SLOT_FREED_ON_REPLY, BACKOFF_1NS_EARLY, ONE_RETRY_SHORT, PERMITS_NEWEST_FIRST)
