"""``SupervisorConfig``: the runtime's settings, validated at construction.

The contract is docs/spec/api.md section 4.

Owns: ``SupervisorConfig``, its validation (``ConfigError`` naming the field), the random source
it hands the core (a seed, an injected object with ``random()``, or an unseeded
``random.Random()``), and the translation to the core's ``fsm.CoreConfig``. Must not import the
driver, the bus or any backend.
"""

from __future__ import annotations

import random as _random
from collections.abc import Mapping, Sequence

import attrs

from taskvisor._errors import ConfigError, ConfigTypeError
from taskvisor.fsm import (
    ControllerConfig,
    CoreConfig,
    Duration,
    Intensity,
    RandomSource,
    RetryBudget,
    SubscriberInfo,
    TaskDefaults,
    ns_to_s,
    to_ns,
)
from taskvisor.fsm._duration import capacity as check_capacity
from taskvisor.fsm._retry_budget import check_budgets
from taskvisor.runtime._clock import Clock, LoopClock

__all__ = ["SupervisorConfig"]


@attrs.frozen(init=False)
class SupervisorConfig:
    """How a ``Supervisor`` behaves. Durations are float seconds or ``timedelta``.

    Attributes:
        grace: how long a cooperative cancellation (removal, shutdown) waits before the attempt
            is force-cancelled by the backend; 0 forces at once.
        subscriber_shutdown_timeout: how long shutdown lets subscribers drain their queues.
        max_concurrent: the most attempts running at once (None: unlimited).
        registry_queue_capacity: bound of the command queue (``add``, ``remove``, ...); the
            ``try_*`` handle methods raise ``CommandQueueFull`` when it is full.
        force_wait: how long a force-cancelled attempt may take to end before it is abandoned.
        seed: with a seed, each task draws its jitter from its own random stream, derived
            from the seed, the task's name and how many earlier tasks had that name, so other
            tasks never change its delays (I8). None: unseeded.
        random: an object with ``random() -> float`` to draw from instead (not with ``seed``);
            every task then shares that one stream, as every task does when unseeded.
        clock: a ``Clock`` (None: ``LoopClock()``, the event loop's clock).
        intensity: the supervisor's restart intensity, ``tv.Intensity(max_restarts, within)``
            counted over restarts after failures across all tasks (None: unlimited); when
            exceeded, the supervisor shuts down and ``run()``/``serve()`` raise
            ``RestartIntensityExceeded``.
        retry_budgets: shared retry budgets by name (``TaskSpec(retry_budget=name)``): each
            restart after a failure takes a token; with none left it waits for the next one.
    """

    grace: float
    subscriber_shutdown_timeout: float
    max_concurrent: int | None
    registry_queue_capacity: int
    force_wait: float
    seed: int | None
    random: RandomSource | None = attrs.field(eq=False)
    clock: Clock | None = attrs.field(eq=False)
    intensity: Intensity | None
    retry_budgets: Mapping[str, RetryBudget] = attrs.field(hash=False)
    grace_ns: int = attrs.field(eq=False, repr=False)
    force_wait_ns: int = attrs.field(eq=False, repr=False)

    def __init__(
        self,
        grace: Duration = 60.0,
        subscriber_shutdown_timeout: Duration = 5.0,
        max_concurrent: int | None = None,
        registry_queue_capacity: int = 1024,
        force_wait: Duration = 1.0,
        seed: int | None = None,
        random: RandomSource | None = None,
        clock: Clock | None = None,
        intensity: Intensity | None = None,
        retry_budgets: Mapping[str, RetryBudget] | None = None,
    ) -> None:
        grace_ns = to_ns(grace, "SupervisorConfig.grace")
        drain_ns = to_ns(
            subscriber_shutdown_timeout, "SupervisorConfig.subscriber_shutdown_timeout"
        )
        force_ns = to_ns(force_wait, "SupervisorConfig.force_wait")
        if max_concurrent is not None:
            max_concurrent = check_capacity(max_concurrent, "SupervisorConfig.max_concurrent")
        capacity = check_capacity(
            registry_queue_capacity, "SupervisorConfig.registry_queue_capacity"
        )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ConfigTypeError("SupervisorConfig.seed", "an int or None", seed)
        if random is not None:
            if seed is not None:
                raise ConfigError("SupervisorConfig.random", "give either seed or random, not both")
            if not callable(getattr(random, "random", None)):
                raise ConfigTypeError("SupervisorConfig.random", "an object with random()", random)
        if clock is not None and not isinstance(clock, Clock):
            raise ConfigTypeError(
                "SupervisorConfig.clock", "an object with now_ns() and sleep_until_ns()", clock
            )
        if intensity is not None and not isinstance(intensity, Intensity):
            raise ConfigError(
                "SupervisorConfig.intensity", f"expected an Intensity or None, got {intensity!r}"
            )
        budgets = dict(check_budgets(retry_budgets, "SupervisorConfig.retry_budgets"))
        self.__attrs_init__(
            ns_to_s(grace_ns),
            ns_to_s(drain_ns),
            max_concurrent,
            capacity,
            ns_to_s(force_ns),
            seed,
            random,
            clock,
            intensity,
            budgets,
            grace_ns,
            force_ns,
        )

    def make_random(self) -> RandomSource:
        """The source the core draws from: the injected one, seeded, or unseeded (fresh)."""
        if self.random is not None:
            return self.random
        return _random.Random(self.seed)

    def make_clock(self) -> Clock:
        """The injected clock, or the event loop's."""
        return LoopClock() if self.clock is None else self.clock

    def core_config(
        self,
        subscribers: Sequence[SubscriberInfo],
        defaults: TaskDefaults,
        controller: ControllerConfig | None = None,
    ) -> CoreConfig:
        """The core's settings for a supervisor with these subscribers, defaults, controller.

        Everything was validated at the public boundary (this class, ``Supervisor``, the bus),
        so the core takes it as checked: one bad value, one ``ConfigError``, one message.
        """
        return CoreConfig.checked(
            grace_ns=self.grace_ns,
            force_wait_ns=self.force_wait_ns,
            max_concurrent=self.max_concurrent,
            subscribers=subscribers,
            defaults=defaults,
            controller=controller,
            intensity=self.intensity,
            retry_budgets=self.retry_budgets,
            seed=self.seed,  # per-task streams (I8); an injected ``random`` is one shared stream
        )
