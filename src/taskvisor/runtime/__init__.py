"""taskvisor.runtime — the anyio driver of the pure core (asyncio, uvloop, trio).

The public names are re-exported from ``taskvisor``. Everything here executes the core's
effects for real and decides nothing of its own (docs/spec/architecture.md, rule 5); see
``docs/spec/runtime.md`` for how cancellation is delivered on each backend.
"""

from taskvisor.runtime._bus import SubscriberStats
from taskvisor.runtime._clock import Clock, LoopClock
from taskvisor.runtime._config import SupervisorConfig
from taskvisor.runtime._context import Task, TaskContext
from taskvisor.runtime._handle import SupervisorHandle, TaskWaiter
from taskvisor.runtime._log import LogSubscriber
from taskvisor.runtime._snapshot import TaskSnapshot, TaskStatus
from taskvisor.runtime._subscriber import Subscriber
from taskvisor.runtime._supervisor import Supervisor

__all__ = [
    "Clock",
    "LogSubscriber",
    "LoopClock",
    "Subscriber",
    "SubscriberStats",
    "Supervisor",
    "SupervisorConfig",
    "SupervisorHandle",
    "Task",
    "TaskContext",
    "TaskSnapshot",
    "TaskStatus",
    "TaskWaiter",
]
