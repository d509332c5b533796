"""taskvisor.sim — tune restart and backoff policies on virtual time with the production core.

The simulator drives the same pure core (``taskvisor.fsm``) and the same policy values as the
runtime, on a discrete-event clock with no event loop and no sleeping (simulator.md).
"""

from taskvisor.sim._preview import backoff_delays

__all__ = ["backoff_delays"]
