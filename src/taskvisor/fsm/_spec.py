"""What to run and how: ``TaskFn``, ``TaskSpec``, ``TaskDefaults`` and their resolution.

Owns: the task specification values (docs/spec/api.md sections 2 and 3) and ``resolve``, which
applies a supervisor's defaults to a spec's ``INHERIT`` fields. The task object itself is opaque
here: the core never calls it. Must not import anything that does I/O.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, TypedDict, Unpack

import attrs

from taskvisor._errors import ConfigError, ConfigTypeError
from taskvisor.fsm._duration import Duration, ns_to_s, to_ns
from taskvisor.fsm._intensity import Intensity
from taskvisor.fsm._policy import BackoffPolicy, RestartMode, RestartPolicy

if TYPE_CHECKING:
    # Type-only (never executed, architecture rule 1): the runtime's task types, so that a type
    # checker checks the functions users hand ``TaskFn`` and ``TaskSpec``.
    from taskvisor.runtime._context import Task, TaskContext

__all__ = [
    "INHERIT",
    "ResolvedSpec",
    "SpecOptions",
    "TaskDefaults",
    "TaskFn",
    "TaskFunction",
    "TaskSpec",
    "task_name",
]


class _Inherit(enum.Enum):
    INHERIT = "INHERIT"

    def __repr__(self) -> str:
        return "INHERIT"


#: Sentinel: the field takes the supervisor's ``TaskDefaults`` value.
INHERIT: Final = _Inherit.INHERIT
Inherit = Literal[_Inherit.INHERIT]


#: What ``TaskFn`` runs: called with the attempt's context, returns a fresh awaitable.
TaskFunction = Callable[["TaskContext"], Awaitable[object]]


def _check_name(field: str, name: object) -> str:
    if not isinstance(name, str):
        raise ConfigTypeError(field, "a non-empty str", name)
    if not name:
        raise ConfigError(field, "must not be empty")
    return name


def _check_fn(instance: object, attribute: object, fn: Any) -> None:
    if not callable(fn):
        raise ConfigTypeError("TaskFn.fn", "a function f(ctx) returning an awaitable", fn)


@attrs.frozen
class TaskFn:
    """A named task from a function: ``fn(ctx)`` returns a fresh awaitable for each attempt."""

    name: str = attrs.field(validator=lambda _, __, name: _check_name("TaskFn.name", name))
    fn: TaskFunction = attrs.field(validator=_check_fn)


if TYPE_CHECKING:
    #: What a ``TaskSpec`` runs: a stateful ``Task``, a ``TaskFn``, or a task function.
    TaskLike: TypeAlias = Task | TaskFn | TaskFunction


def task_name(task: object) -> str | None:
    """The name a task object carries: ``.name`` (TaskFn, Task) or ``__name__`` (a function).

    A ``functools.partial`` is named after the function it wraps.
    """
    name = getattr(task, "name", None)
    if isinstance(name, str):
        return name
    while isinstance(task, functools.partial):
        task = task.func
    name = getattr(task, "__name__", None)
    return name if isinstance(name, str) else None


def _check_task(task: object) -> None:
    """Refuse, at construction, a task no attempt could run (the core itself never calls it)."""
    if isinstance(task, TaskFn):
        return
    if isinstance(task, type):
        raise ConfigTypeError("TaskSpec.task", "a Task instance or a function, not a class", task)
    if callable(getattr(task, "run", None)) or callable(task):
        return
    raise ConfigTypeError("TaskSpec.task", "a Task, a TaskFn or an async function", task)


def _timeout_ns(value: object, field: str) -> int | None:
    if value is None:
        return None
    ns = to_ns(value, field)
    if ns == 0:
        raise ConfigError(field, "must be positive (use None for no timeout)")
    return ns


def _max_retries(value: object, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigTypeError(field, "an int or None", value)
    if value < 1:
        raise ConfigError(field, f"must be >= 1 (or None for unlimited), got {value!r}")
    return value


def _positive_ns(value: object, field: str, none: str) -> int | None:
    """A positive duration in ns, or None (``none`` says what None means, for the message)."""
    if value is None:
        return None
    ns = to_ns(value, field)
    if ns == 0:
        raise ConfigError(field, f"must be positive (use None for {none})")
    return ns


def _intensity(value: object, field: str) -> Intensity | None:
    if value is not None and not isinstance(value, Intensity):
        raise ConfigTypeError(field, "an Intensity or None", value)
    return value


def _retry_on(value: object, field: str) -> tuple[type[BaseException], ...]:
    """``retry_on``: an exception class or a tuple of them (what ``except`` accepts)."""
    classes = value if isinstance(value, tuple) else (value,)
    if not classes or not all(
        isinstance(c, type) and issubclass(c, BaseException) for c in classes
    ):
        raise ConfigTypeError(field, "an exception class or a non-empty tuple of them", value)
    return classes


def _seconds(ns: int | None) -> float | None:
    return None if ns is None else ns_to_s(ns)


#: Kubernetes resets a container's backoff after 10 minutes of running (2x its 5-minute cap);
#: ours is 10x the default 30 s cap (docs/crash-loops.md).
DEFAULT_RESET_AFTER = 300.0


def _check_type(value: object, kind: type, field: str) -> None:
    if not isinstance(value, kind):
        raise ConfigTypeError(field, f"a {kind.__name__}", value)


@attrs.frozen(init=False)
class TaskDefaults:
    """What a ``TaskSpec`` field that is not given inherits."""

    restart: RestartPolicy
    backoff: BackoffPolicy
    timeout: float | None
    max_retries: int | None
    reset_after: float | None
    intensity: Intensity | None
    retry_on: tuple[type[BaseException], ...]
    give_up_after: float | None
    watchdog: float | None
    timeout_ns: int | None = attrs.field(eq=False, repr=False)
    reset_after_ns: int | None = attrs.field(eq=False, repr=False)
    give_up_after_ns: int | None = attrs.field(eq=False, repr=False)
    watchdog_ns: int | None = attrs.field(eq=False, repr=False)

    def __init__(
        self,
        restart: RestartPolicy = RestartPolicy.ON_FAILURE,
        backoff: BackoffPolicy | None = None,
        timeout: Duration | None = None,
        max_retries: int | None = None,
        *,
        reset_after: Duration | None = DEFAULT_RESET_AFTER,
        intensity: Intensity | None = None,
        retry_on: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
        give_up_after: Duration | None = None,
        watchdog: Duration | None = None,
    ) -> None:
        _check_type(restart, RestartPolicy, "TaskDefaults.restart")
        backoff = BackoffPolicy() if backoff is None else backoff
        _check_type(backoff, BackoffPolicy, "TaskDefaults.backoff")
        timeout_ns = _timeout_ns(timeout, "TaskDefaults.timeout")
        retries = _max_retries(max_retries, "TaskDefaults.max_retries")
        reset_ns = _positive_ns(reset_after, "TaskDefaults.reset_after", "the seed's rule")
        give_up_ns = _positive_ns(give_up_after, "TaskDefaults.give_up_after", "never")
        watchdog_ns = _positive_ns(watchdog, "TaskDefaults.watchdog", "no watchdog")
        self.__attrs_init__(
            restart,
            backoff,
            _seconds(timeout_ns),
            retries,
            _seconds(reset_ns),
            _intensity(intensity, "TaskDefaults.intensity"),
            _retry_on(retry_on, "TaskDefaults.retry_on"),
            _seconds(give_up_ns),
            _seconds(watchdog_ns),
            timeout_ns,
            reset_ns,
            give_up_ns,
            watchdog_ns,
        )


@attrs.frozen
class ResolvedSpec:
    """A spec with every field decided: what the core's lifecycle machine runs on."""

    restart: RestartPolicy
    backoff: BackoffPolicy
    timeout_ns: int | None
    max_retries: int | None
    reset_after_ns: int | None = None
    intensity: Intensity | None = None
    critical: bool = False
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    give_up_after_ns: int | None = None
    watchdog_ns: int | None = None
    retry_budget: str | None = None  # retry shaping (docs/spec/api.md section 8)
    start_jitter_ns: int = 0
    #: Whether a failure may end the task by a rule of this policy (NEVER, max_retries,
    #: give_up_after, intensity): decided once here so that a failure under none of them
    #: skips their checks (the ended attempt's step, benchmarks/bench_core.py).
    limited: bool = attrs.field(
        init=False,
        eq=False,
        repr=False,
        default=attrs.Factory(
            lambda self: (
                self.restart.mode is RestartMode.NEVER
                or self.max_retries is not None
                or self.give_up_after_ns is not None
                or self.intensity is not None
            ),
            takes_self=True,
        ),
    )


class SpecOptions(TypedDict, total=False):
    """The keywords that ``TaskSpec.once``, ``restartable`` and ``periodic`` pass on.

    Typed (PEP 692), so a type checker refuses a misspelt keyword; each means what the
    ``TaskSpec`` field of the same name means.
    """

    backoff: BackoffPolicy | Inherit
    timeout: Duration | Inherit | None
    max_retries: int | Inherit | None
    name: str | None
    reset_after: Duration | Inherit | None
    intensity: Intensity | Inherit | None
    critical: bool
    retry_on: type[BaseException] | tuple[type[BaseException], ...] | Inherit
    give_up_after: Duration | Inherit | None
    watchdog: Duration | Inherit | None
    retry_budget: str | None
    start_jitter: Duration


@attrs.frozen(init=False)
class TaskSpec:
    """What to supervise and under which policies (docs/spec/api.md section 3).

    Fields left at ``INHERIT`` take the supervisor's ``TaskDefaults``; an explicit ``None`` for
    ``timeout`` or ``max_retries`` means "none", not "inherit".
    """

    task: TaskLike = attrs.field(eq=False)
    name: str
    restart: RestartPolicy | Inherit
    backoff: BackoffPolicy | Inherit
    timeout: float | Inherit | None
    max_retries: int | Inherit | None
    timeout_ns: int | Inherit | None = attrs.field(eq=False, repr=False)
    reset_after: float | Inherit | None = INHERIT
    intensity: Intensity | Inherit | None = INHERIT
    critical: bool = False
    retry_on: tuple[type[BaseException], ...] | Inherit = INHERIT
    give_up_after: float | Inherit | None = INHERIT
    watchdog: float | Inherit | None = INHERIT
    # Retry shaping (docs/spec/api.md section 8): not inherited; None and 0 mean "none".
    retry_budget: str | None = None
    start_jitter: float = 0.0
    start_jitter_ns: int = attrs.field(default=0, eq=False, repr=False)

    def __init__(
        self,
        task: TaskLike,
        *,
        restart: RestartPolicy | Inherit = INHERIT,
        backoff: BackoffPolicy | Inherit = INHERIT,
        timeout: Duration | Inherit | None = INHERIT,
        max_retries: int | Inherit | None = INHERIT,
        name: str | None = None,
        reset_after: Duration | Inherit | None = INHERIT,
        intensity: Intensity | Inherit | None = INHERIT,
        critical: bool = False,
        retry_on: type[BaseException] | tuple[type[BaseException], ...] | Inherit = INHERIT,
        give_up_after: Duration | Inherit | None = INHERIT,
        watchdog: Duration | Inherit | None = INHERIT,
        retry_budget: str | None = None,
        start_jitter: Duration = 0.0,
    ) -> None:
        _check_task(task)
        if name is None:
            name = task_name(task)
            if name is None:
                raise ConfigError(
                    "TaskSpec.name", f"no name can be derived from {task!r}: pass name=..."
                )
        name = _check_name("TaskSpec.name", name)
        if restart is not INHERIT:
            _check_type(restart, RestartPolicy, "TaskSpec.restart")
        if backoff is not INHERIT:
            _check_type(backoff, BackoffPolicy, "TaskSpec.backoff")
        timeout_ns: int | Inherit | None = INHERIT
        seconds: float | Inherit | None = INHERIT
        if timeout is not INHERIT:
            timeout_ns = _timeout_ns(timeout, "TaskSpec.timeout")
            seconds = None if timeout_ns is None else ns_to_s(timeout_ns)
        retries: int | Inherit | None = INHERIT
        if max_retries is not INHERIT:
            retries = _max_retries(max_retries, "TaskSpec.max_retries")
        if not isinstance(critical, bool):
            raise ConfigTypeError("TaskSpec.critical", "a bool", critical)

        def seconds_of(value: object, field: str, none: str) -> float | Inherit | None:
            if value is INHERIT:
                return INHERIT
            return _seconds(_positive_ns(value, f"TaskSpec.{field}", none))

        budget, jitter_ns = _shaping(retry_budget, start_jitter)
        self.__attrs_init__(
            task,
            name,
            restart,
            backoff,
            seconds,
            retries,
            timeout_ns,
            seconds_of(reset_after, "reset_after", "the seed's rule"),
            INHERIT if intensity is INHERIT else _intensity(intensity, "TaskSpec.intensity"),
            critical,
            INHERIT if retry_on is INHERIT else _retry_on(retry_on, "TaskSpec.retry_on"),
            seconds_of(give_up_after, "give_up_after", "never"),
            seconds_of(watchdog, "watchdog", "no watchdog"),
            budget,
            ns_to_s(jitter_ns),
            jitter_ns,
        )

    @classmethod
    def once(cls, task: TaskLike, **options: Unpack[SpecOptions]) -> TaskSpec:
        """Run once; never restarted. ``options``: every ``TaskSpec`` keyword but ``restart``."""
        return cls(task, restart=RestartPolicy.NEVER, **options)

    @classmethod
    def restartable(cls, task: TaskLike, **options: Unpack[SpecOptions]) -> TaskSpec:
        """Restarted after failures (backoff), done after its first success. ``options``: as
        for ``once``."""
        return cls(task, restart=RestartPolicy.ON_FAILURE, **options)

    @classmethod
    def periodic(
        cls,
        task: TaskLike,
        every: Duration,
        *,
        jitter: float = 0.0,
        **options: Unpack[SpecOptions],
    ) -> TaskSpec:
        """Run again ``every`` seconds after each success; failures use the backoff.

        ``jitter``: each pause is uniform in ``every * (1 ± jitter)`` (``RestartPolicy.always``).
        ``options``: as for ``once``.
        """
        # A bad ``every`` is named as the caller wrote it; 0 would restart a succeeding task in
        # a busy loop (~10^4 attempts per second), so periodic() refuses it (always() keeps
        # "at once" for those who mean it).
        if to_ns(every, "TaskSpec.every") == 0:
            raise ConfigError("TaskSpec.every", f"must be positive, got {every!r}")
        return cls(task, restart=RestartPolicy.always(every, jitter), **options)

    def resolve(self, defaults: TaskDefaults) -> ResolvedSpec:
        """Apply ``defaults`` to every ``INHERIT`` field."""
        return ResolvedSpec(
            restart=defaults.restart if self.restart is INHERIT else self.restart,
            backoff=defaults.backoff if self.backoff is INHERIT else self.backoff,
            timeout_ns=defaults.timeout_ns if self.timeout_ns is INHERIT else self.timeout_ns,
            max_retries=defaults.max_retries if self.max_retries is INHERIT else self.max_retries,
            reset_after_ns=_ns_or(self.reset_after, defaults.reset_after_ns),
            intensity=defaults.intensity if self.intensity is INHERIT else self.intensity,
            critical=self.critical,
            retry_on=defaults.retry_on if self.retry_on is INHERIT else self.retry_on,
            give_up_after_ns=_ns_or(self.give_up_after, defaults.give_up_after_ns),
            watchdog_ns=_ns_or(self.watchdog, defaults.watchdog_ns),
            retry_budget=self.retry_budget,
            start_jitter_ns=self.start_jitter_ns,
        )


def _ns_or(seconds: float | Inherit | None, default_ns: int | None) -> int | None:
    """A spec's duration field in ns, or the default's when it inherits."""
    if seconds is INHERIT:
        return default_ns
    return None if seconds is None else to_ns(seconds, "duration")


def _shaping(retry_budget: object, start_jitter: object) -> tuple[str | None, int]:
    """Validate ``TaskSpec.retry_budget`` (a budget's name or None) and ``start_jitter``."""
    if retry_budget is not None and not isinstance(retry_budget, str):
        raise ConfigTypeError(
            "TaskSpec.retry_budget", "a budget's name (a str) or None", retry_budget
        )
    if retry_budget == "":
        raise ConfigError("TaskSpec.retry_budget", "must be a budget's name, got ''")
    return retry_budget, to_ns(start_jitter, "TaskSpec.start_jitter")
