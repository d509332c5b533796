"""What to run and how: ``TaskFn``, ``TaskSpec``, ``TaskDefaults`` and their resolution.

Owns: the task specification values (docs/spec/api.md sections 2 and 3) and ``resolve``, which
applies a supervisor's defaults to a spec's ``INHERIT`` fields. The task object itself is opaque
here: the core never calls it. Must not import anything that does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal

import attrs

from taskvisor._errors import ConfigError
from taskvisor.fsm._duration import Duration, ns_to_s, to_ns
from taskvisor.fsm._intensity import Intensity
from taskvisor.fsm._policy import BackoffPolicy, RestartPolicy

__all__ = ["INHERIT", "ResolvedSpec", "TaskDefaults", "TaskFn", "TaskSpec", "task_name"]


class _Inherit(enum.Enum):
    INHERIT = "INHERIT"

    def __repr__(self) -> str:
        return "INHERIT"


#: Sentinel: the field takes the supervisor's ``TaskDefaults`` value.
INHERIT: Final = _Inherit.INHERIT
Inherit = Literal[_Inherit.INHERIT]


@attrs.frozen
class TaskFn:
    """A named task from a function: ``fn(ctx)`` returns a fresh awaitable for each attempt."""

    name: str
    fn: Callable[[Any], Awaitable[None]]


def task_name(task: object) -> str | None:
    """The name a task object carries: ``.name`` (TaskFn, Task) or ``__name__`` (a function)."""
    name = getattr(task, "name", None)
    if isinstance(name, str):
        return name
    name = getattr(task, "__name__", None)
    return name if isinstance(name, str) else None


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
        raise ConfigError(field, f"expected an int or None, got {value!r}")
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
        raise ConfigError(field, f"expected an Intensity or None, got {value!r}")
    return value


def _retry_on(value: object, field: str) -> tuple[type[BaseException], ...]:
    """``retry_on``: an exception class or a tuple of them (what ``except`` accepts)."""
    classes = value if isinstance(value, tuple) else (value,)
    if not classes or not all(
        isinstance(c, type) and issubclass(c, BaseException) for c in classes
    ):
        raise ConfigError(
            field, f"expected an exception class or a non-empty tuple of them, got {value!r}"
        )
    return classes


def _seconds(ns: int | None) -> float | None:
    return None if ns is None else ns_to_s(ns)


#: Kubernetes resets a container's backoff after 10 minutes of running (2x its 5-minute cap);
#: ours is 10x the default 30 s cap (docs/crash-loops.md).
DEFAULT_RESET_AFTER = 300.0


def _check_type(value: object, kind: type, field: str) -> None:
    if not isinstance(value, kind):
        raise ConfigError(field, f"expected a {kind.__name__}, got {value!r}")


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


@attrs.frozen(init=False)
class TaskSpec:
    """What to supervise and under which policies (docs/spec/api.md section 3).

    Fields left at ``INHERIT`` take the supervisor's ``TaskDefaults``; an explicit ``None`` for
    ``timeout`` or ``max_retries`` means "none", not "inherit".
    """

    task: Any = attrs.field(eq=False)
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

    def __init__(
        self,
        task: Any,
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
    ) -> None:
        if name is None:
            name = task_name(task)
            if name is None:
                raise ConfigError(
                    "TaskSpec.task",
                    f"expected a Task, a TaskFn or an async function, got {task!r}",
                )
        if not isinstance(name, str) or not name:
            raise ConfigError("TaskSpec.name", f"expected a non-empty str, got {name!r}")
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
            raise ConfigError("TaskSpec.critical", f"expected a bool, got {critical!r}")

        def seconds_of(value: object, field: str, none: str) -> float | Inherit | None:
            if value is INHERIT:
                return INHERIT
            return _seconds(_positive_ns(value, f"TaskSpec.{field}", none))

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
        )

    @classmethod
    def once(cls, task: Any, **kw: Any) -> TaskSpec:
        """Run once; never restarted."""
        return cls(task, restart=RestartPolicy.NEVER, **kw)

    @classmethod
    def restartable(cls, task: Any, **kw: Any) -> TaskSpec:
        """Restarted after failures (backoff), done after its first success."""
        return cls(task, restart=RestartPolicy.ON_FAILURE, **kw)

    @classmethod
    def periodic(cls, task: Any, every: Duration, **kw: Any) -> TaskSpec:
        """Run again ``every`` seconds after each success; failures use the backoff."""
        return cls(task, restart=RestartPolicy.always(every), **kw)

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
        )


def _ns_or(seconds: float | Inherit | None, default_ns: int | None) -> int | None:
    """A spec's duration field in ns, or the default's when it inherits."""
    if seconds is INHERIT:
        return default_ns
    return None if seconds is None else to_ns(seconds, "duration")
