"""taskvisor.testing — the test kit this project's own suites use, shipped to users.

- ``assert_event_sequence`` / ``event_kinds``: compare a task's events with the expected kinds
  (docs/spec/api.md section 5), with a readable diff on mismatch. Plain Python.
- ``CheckedCore``: drive the pure core (``taskvisor.fsm``) step by step at virtual time; every
  step is checked against invariants I1-I10 and a model of the contract. Plain Python.
- ``explore``: check the core exhaustively, every legal input sequence up to a depth from your
  specs, breadth-first; an ``Exploration`` with the figures and each ``Violation``'s shortest
  counterexample as a replay script (docs/model-checking.md). Plain Python.
- ``SupervisorMachine``: a Hypothesis ``RuleBasedStateMachine`` over the whole core; subclass it
  and override its strategy hooks to check your own ``TaskSpec``s and policies.
- ``strategies``: Hypothesis strategies for policies, specs, configurations and input scripts.
- ``VirtualClock`` / ``seeded``: run a real ``Supervisor`` on virtual time on asyncio (the loop
  jumps to its next timer when idle; trio users have ``trio.testing.MockClock``), with a fixed
  seed, so a run is instant and replays exactly. Plain Python.

``SupervisorMachine`` and ``strategies`` need Hypothesis, an optional dependency: install it
with ``pip install hypothesis`` (or taskvisor's ``testing`` extra). They are imported on first
use, so ``import taskvisor.testing`` works without it. Nothing here imports pytest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from taskvisor.testing._assertions import assert_event_sequence, event_kinds
from taskvisor.testing._checked import CheckedCore
from taskvisor.testing._clock import VirtualClock, seeded
from taskvisor.testing._explore import Exploration, Violation, explore

if TYPE_CHECKING:
    from taskvisor.testing import _strategies as strategies
    from taskvisor.testing._stateful import SupervisorMachine

__all__ = [
    "CheckedCore",
    "Exploration",
    "SupervisorMachine",
    "Violation",
    "VirtualClock",
    "assert_event_sequence",
    "event_kinds",
    "explore",
    "seeded",
    "strategies",
]

_NEEDS_HYPOTHESIS = {
    "SupervisorMachine": ("taskvisor.testing._stateful", "SupervisorMachine"),
    "strategies": ("taskvisor.testing._strategies", None),
}


def __getattr__(name: str) -> Any:
    """Import the Hypothesis-based names on first use (PEP 562)."""
    if name not in _NEEDS_HYPOTHESIS:
        raise AttributeError(f"module 'taskvisor.testing' has no attribute {name!r}")
    module_name, attr = _NEEDS_HYPOTHESIS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != "hypothesis":
            raise
        raise ModuleNotFoundError(
            f"taskvisor.testing.{name} needs Hypothesis: pip install hypothesis "
            "(or taskvisor's 'testing' extra)",
            name="hypothesis",
        ) from exc
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
