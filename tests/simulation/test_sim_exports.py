"""``taskvisor.sim``'s public names are what ``__all__`` says (trio's test_exports)."""

from __future__ import annotations

import taskvisor.sim as sim


def test_every_public_name_is_importable_and_listed() -> None:
    for name in sim.__all__:
        assert hasattr(sim, name), name
    public = {n for n in dir(sim) if not n.startswith("_")}
    assert public == set(sim.__all__)


def test_the_five_scenarios_are_registered_in_order() -> None:
    assert list(sim.SCENARIOS) == ["contention", "outage", "flapping", "crashloop", "supervisor"]
    for scenario in sim.SCENARIOS.values():
        assert scenario.params
        assert scenario.metrics
        assert scenario.resolve() == {p.name: p.default for p in scenario.params}
