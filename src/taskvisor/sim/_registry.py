"""The scenarios the simulator knows, by name.

Owns: ``SCENARIOS`` and ``get_scenario``. A worker process finds a scenario by its name here, so
work units carry names rather than functions. Must not import the runtime; does no I/O.
"""

from __future__ import annotations

from taskvisor.sim._contention import CONTENTION
from taskvisor.sim._crashloop import CRASHLOOP
from taskvisor.sim._flapping import FLAPPING
from taskvisor.sim._outage import OUTAGE
from taskvisor.sim._scenario import ParamError, Scenario, literal
from taskvisor.sim._storm import SUPERVISOR

__all__ = ["SCENARIOS", "get_scenario"]

#: Every scenario, in the order the command lists them.
SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (CONTENTION, OUTAGE, FLAPPING, CRASHLOOP, SUPERVISOR)
}


def get_scenario(scenario: str | Scenario) -> Scenario:
    """The scenario called ``scenario`` (a ``Scenario`` is returned as is)."""
    if isinstance(scenario, Scenario):
        return scenario
    found = SCENARIOS.get(scenario)
    if found is None:
        raise ParamError(
            "scenario",
            literal(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}"),
        )
    return found
