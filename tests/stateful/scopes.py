"""The configurations ``explore`` checks exhaustively (docs/model-checking.md, "Bounds").

Each scope is small on purpose (the small-scope hypothesis): two or three tasks, one run
permit, one slot, one subscriber with a queue of one, so that the features meet each other
within a few inputs. ``make test`` explores each of ``SCOPES`` to its ``depth``; ``make proof``
(``tools/model_check.py proof``) explores ``PROOF_SCOPES``: larger ones, and two of these
deeper.
"""

from __future__ import annotations

from typing import Any

import attrs

from taskvisor.fsm import (
    BackoffPolicy,
    ControllerConfig,
    CoreConfig,
    Intensity,
    JitterPolicy,
    RestartPolicy,
    RetryBudget,
    SubscriberInfo,
    TaskFn,
    TaskSpec,
)


async def body(ctx: object) -> None:
    """A task body; the core never runs it."""


def fn(name: str) -> TaskFn:
    """A ``TaskFn`` named ``name``."""
    return TaskFn(name, body)


#: A service that fails: jittered backoff (each failure draws), one retry, a timeout.
SERVICE = TaskSpec.restartable(
    fn("svc"),
    backoff=BackoffPolicy(first=1.0, max=4.0, jitter=JitterPolicy.EQUAL),
    max_retries=1,
    timeout=3.0,
)
#: A periodic job: a pause after each success, a fixed backoff after a failure.
POLLER = TaskSpec.periodic(fn("poll"), 2.0, backoff=BackoffPolicy.constant(1.0))
#: Run-once tasks.
ONCE_A = TaskSpec.once(fn("a"))
ONCE_B = TaskSpec.once(fn("b"))
ONCE_C = TaskSpec.once(fn("c"))
#: Restart controls (docs/spec/api.md section 8): one restart per 10 s, only connection errors are
#: retried, a heartbeat due every 2 s.
GUARDED = TaskSpec.restartable(
    fn("guard"),
    backoff=BackoffPolicy.constant(1.0),
    intensity=Intensity(1, 10.0),
    retry_on=(ConnectionError,),
    watchdog=2.0,
)
#: One retry, but a run of 4 s ends the failure streak (the healthy-run reset).
HEALER = TaskSpec.restartable(
    fn("heal"), backoff=BackoffPolicy.constant(1.0), max_retries=1, reset_after=4.0
)
#: Retry shaping (docs/spec/api.md section 8): two tasks share retry budget ``db``; ``call`` starts
#: after a start jitter, ``pull`` runs again after a jittered interval and backs off with FULL
#: jitter.
CALLER = TaskSpec.restartable(
    fn("call"), backoff=BackoffPolicy.constant(1.0), retry_budget="db", start_jitter=1.0
)
JITTERED_POLLER = TaskSpec(
    fn("pull"),
    restart=RestartPolicy.always(2.0, jitter=0.5),
    backoff=BackoffPolicy(first=1.0, jitter=JitterPolicy.FULL),
    retry_budget="db",
)
#: One token per 2 s, at most one held.
SHAPING = CoreConfig(1.0, force_wait=0.5, retry_budgets={"db": RetryBudget(0.5, 1)})


@attrs.frozen
class Scope:
    """One configuration to explore: the ``explore`` arguments and the depth for make test."""

    name: str
    specs: tuple[TaskSpec, ...]
    config: CoreConfig
    depth: int
    controller: ControllerConfig | None = None
    slots: tuple[str | None, ...] = (None,)
    jumps: tuple[float, ...] = ()
    retry_afters: tuple[float, ...] = ()

    def kwargs(self) -> dict[str, Any]:
        """``explore``'s keyword arguments (all but ``depth``)."""
        return {
            "specs": self.specs,
            "config": self.config,
            "controller": self.controller,
            "slots": self.slots,
            "jumps": self.jumps,
            "retry_afters": self.retry_afters,
        }


SCOPES = (
    # Restarts, backoff draws, retry budgets, timeouts, one run permit shared by two tasks,
    # removal and shutdown with a grace period and a force-wait.
    Scope(
        "lifecycle",
        (SERVICE, POLLER),
        CoreConfig(1.0, force_wait=0.5, max_concurrent=1),
        depth=6,
    ),
    # Admission control: three policies into one shared slot with a queue of one.
    Scope(
        "slots",
        (ONCE_A, ONCE_B),
        CoreConfig(1.0, force_wait=0.5),
        depth=5,
        controller=ControllerConfig(max_slot_queue=1),
        slots=("s",),
    ),
    # The event bus: a subscriber with a queue of one (drops, overflow episodes, panics),
    # and cancellation forced at once (grace 0).
    Scope(
        "bus",
        (SERVICE,),
        CoreConfig(0.0, force_wait=0.5, subscribers=[SubscriberInfo("sub", 1)]),
        depth=7,
    ),
    # The restart controls: task and supervisor intensity (escalation), retry_on, the watchdog,
    # the healthy-run reset; time jumps 5 s so an attempt can outlive reset_after.
    Scope(
        "controls",
        (GUARDED, HEALER),
        CoreConfig(1.0, force_wait=0.5, intensity=Intensity(2, 10.0)),
        depth=5,
        jumps=(5.0,),
    ),
    # Retry shaping: a shared retry budget (restarts waiting for tokens, in deadline order),
    # failures with a Retry-After of 0 and 3 s, a start jitter and a jittered interval.
    Scope("shaping", (CALLER, JITTERED_POLLER), SHAPING, depth=5, retry_afters=(0.0, 3.0)),
)

#: ``make proof`` (``tools/model_check.py proof``): larger scopes, or the same deeper, each to the
#: depth given (about seven minutes on two cores, more when other work holds them); the longest
#: first, so two processes finish together.
PROOF_SCOPES = (
    attrs.evolve(SCOPES[1], depth=7),
    attrs.evolve(SCOPES[0], depth=8),
    # Every feature at once: a permit, a slot with a queue, a subscriber with a queue of one.
    Scope(
        "everything",
        (SERVICE, ONCE_A),
        CoreConfig(1.0, force_wait=0.5, max_concurrent=1, subscribers=[SubscriberInfo("sub", 1)]),
        depth=6,
        controller=ControllerConfig(max_slot_queue=1),
        slots=("s",),
    ),
    # Three tasks contending for one run permit: FIFO order among two waiting (I3).
    Scope(
        "lifecycle-3",
        (SERVICE, POLLER, ONCE_A),
        CoreConfig(1.0, force_wait=0.5, max_concurrent=1),
        depth=7,
    ),
)
