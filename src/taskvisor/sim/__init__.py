"""taskvisor.sim — tune restart and backoff policies on virtual time with the production core.

The simulator uses the same policy values as the runtime, on a discrete-event clock with no event
loop and no sleeping (docs/simulator.md). Two of its scenarios drive the pure core itself
(``fsm.step`` through ``CoreDriver``): ``crashloop`` and ``supervisor``, where the production
code decides every restart, budget, grace and queue. The other three, ``contention``, ``outage``
and ``flapping``, reuse the core's arithmetic (``next_delay_ns`` on a ``RetryStreak``, from the
private ``fsm._backoff``, drawing as the core draws) in a hand-written event loop, for speed;
tests hold ``outage`` to the supervisor machine and ``contention``'s inlined arithmetic to the
core's, bit for bit
(``tests/simulation/test_sim_conformance.py``, ``test_retry.py``).

Start with ``backoff_delays`` to preview a policy, ``simulate`` for one run of a scenario, and
``sweep`` to compare policies over seeds with 95% intervals; ``taskvisor sim`` is the command.
"""

from taskvisor.sim._contention import aws_policies
from taskvisor.sim._engine import CoreDriver
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
    "aws_policies",
    "backoff_delays",
    "derive_seed",
    "get_scenario",
    "run_seeds",
    "simulate",
    "summarize",
    "sweep",
]
