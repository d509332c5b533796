"""taskvisor.sim — tune restart and backoff policies on virtual time with the production core.

The simulator drives the same pure core (``taskvisor.fsm``) and the same policy values as the
runtime, on a discrete-event clock with no event loop and no sleeping (docs/simulator.md). Start
with ``backoff_delays`` to preview a policy, ``simulate`` for one run of a scenario, and
``sweep`` to compare policies over seeds with 95% intervals; ``taskvisor sim`` is the command.
"""

from taskvisor.sim._contention import aws_policies
from taskvisor.sim._engine import CoreDriver, Timeline
from taskvisor.sim._metrics import Estimate, summarize
from taskvisor.sim._preview import backoff_delays
from taskvisor.sim._registry import SCENARIOS, get_scenario
from taskvisor.sim._scenario import (
    Metric,
    Param,
    ParamError,
    PolicyDefaults,
    RunResult,
    RunSeeds,
    Scenario,
)
from taskvisor.sim._sweep import Row, derive_seed, run_seeds, simulate, sweep

__all__ = [
    "SCENARIOS",
    "CoreDriver",
    "Estimate",
    "Metric",
    "Param",
    "ParamError",
    "PolicyDefaults",
    "Row",
    "RunResult",
    "RunSeeds",
    "Scenario",
    "Timeline",
    "aws_policies",
    "backoff_delays",
    "derive_seed",
    "get_scenario",
    "run_seeds",
    "simulate",
    "summarize",
    "sweep",
]
