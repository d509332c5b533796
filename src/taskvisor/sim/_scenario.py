"""What a scenario is: its parameters, its metrics, and one seeded run of it.

Owns: ``Param`` (a documented, validated parameter with a default and an allowed range),
``Metric``, ``RunSeeds`` (the seeds of one run: the world's, the root of the tasks' own
streams, and a shared stream's), ``RunResult`` and ``Scenario``. Validation errors are
``ParamError``: one line naming the parameter and its allowed range, which the command prints as
is. Must not import the
runtime; does no I/O.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping

import attrs

from taskvisor._errors import ConfigError
from taskvisor.fsm import BackoffPolicy, Intensity, JitterPolicy, to_ns
from taskvisor.fsm._streams import stream_seed

__all__ = [
    "LATENCY",
    "SUPERVISOR_BACKOFF",
    "Metric",
    "Param",
    "ParamError",
    "PolicyDefaults",
    "RunResult",
    "RunSeeds",
    "Scenario",
    "check_latency_advances_time",
    "flag",
    "horizon_param",
    "literal",
    "never_run",
    "p_float",
    "p_int",
    "p_intensity",
    "p_ns",
    "p_opt_float",
    "p_opt_int",
    "tasks_param",
]

Value = int | float | str | None


class _Spelling(dict[str, str]):
    """``str.format_map`` names: every ``{name}`` of a template spelt by ``spell``."""

    def __init__(self, spell: Callable[[str], str]) -> None:
        super().__init__()
        self.spell = spell

    def __missing__(self, key: str) -> str:
        return self.spell(key)


def flag(name: str) -> str:
    """How the command spells a Python parameter name: ``leg_sd`` -> ``--leg-sd``."""
    return "--" + name.replace("_", "-")


def literal(text: object) -> str:
    """``text`` as it must appear in a ``ParamError`` template (braces doubled)."""
    return str(text).replace("{", "{{").replace("}", "}}")


class ParamError(ConfigError):
    """A scenario parameter is out of range; the message names it and its range (one line).

    ``template`` writes each parameter it mentions as ``{name}``: a Python caller reads the
    Python names (``str(err)``: ``tasks must be ...``), the command its flags
    (``for_command_line()``: ``--tasks must be ...``).
    """

    def __init__(self, param: str, template: str) -> None:
        message = template.format_map(_Spelling(str))
        super().__init__(param, message)
        self.param = param
        self.template = template
        self.message = message

    def __str__(self) -> str:
        return self.message

    def for_command_line(self) -> str:
        """The message with every parameter spelt as the command's flag."""
        return self.template.format_map(_Spelling(flag))

    def __reduce__(self) -> tuple[type[ParamError], tuple[str, str]]:
        return ParamError, (self.param, self.template)


async def never_run(ctx: object) -> None:  # pragma: no cover - the simulator runs no bodies
    """The body of every task a scenario hands the core; the world decides how attempts end."""


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def p_int(params: Mapping[str, Value], name: str) -> int:
    """The int parameter ``name`` of resolved ``params``."""
    value = params[name]
    if not isinstance(value, int):
        raise TypeError(f"parameter {name} is {value!r}, not an int")
    return value


def p_opt_int(params: Mapping[str, Value], name: str) -> int | None:
    """The int-or-None parameter ``name`` of resolved ``params``."""
    return None if params[name] is None else p_int(params, name)


def p_float(params: Mapping[str, Value], name: str) -> float:
    """The number parameter ``name`` of resolved ``params``."""
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"parameter {name} is {value!r}, not a number")
    return float(value)


def p_opt_float(params: Mapping[str, Value], name: str) -> float | None:
    """The number-or-None parameter ``name`` of resolved ``params``."""
    return None if params[name] is None else p_float(params, name)


def p_ns(params: Mapping[str, Value], name: str) -> int:
    """The seconds parameter ``name`` of resolved ``params``, in integer nanoseconds."""
    return to_ns(p_float(params, name), name)


def p_intensity(params: Mapping[str, Value], name: str) -> Intensity | None:
    """The intensity parameter ``name`` (``"N/S"`` or None) of resolved ``params``."""
    value = params[name]
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"parameter {name} is {value!r}, not an intensity")
    restarts, _, within = value.partition("/")
    return Intensity(int(restarts), float(within))


#: The largest ``N`` and ``S`` an intensity parameter ``N/S`` accepts.
_MAX_RESTARTS, _MAX_WITHIN = 1_000_000, 1e7


@attrs.frozen
class Param:
    """One parameter of a scenario.

    Attributes:
        name: the Python name (``leg_sd``); the command spells it ``--leg-sd``.
        kind: ``"int"``, ``"float"`` (seconds or a plain number), ``"choice"`` or
            ``"intensity"`` (a restart intensity ``N/S``: at most N restarts after failures
            within S seconds, ``tv.Intensity(N, S)``; its value is the text ``"N/S"``, and a
            Python caller may pass an ``Intensity``).
        default: the value when not given.
        low, high: the inclusive range of an int or float.
        choices: the allowed values of a choice.
        none_ok: whether ``None`` (``none`` on the command line) is allowed, e.g. "unlimited".
        help: what it means, with its unit.
    """

    name: str
    kind: str
    default: Value
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    none_ok: bool = False

    @property
    def flag(self) -> str:
        """The command-line spelling, ``--leg-sd``."""
        return flag(self.name)

    def allowed(self) -> str:
        """The allowed values in words, for help and errors."""
        if self.kind == "choice":
            text = "one of " + ", ".join(self.choices)
        elif self.kind == "intensity":
            text = (
                f"N/S with N an integer in [0, {_MAX_RESTARTS}] and S a number in "
                f"(0, {_fmt(_MAX_WITHIN)}]"
            )
        else:
            what = "an integer" if self.kind == "int" else "a number"
            text = f"{what} in [{_fmt(self.low or 0)}, {_fmt(self.high or math.inf)}]"
        return text + (" or none" if self.none_ok else "")

    def _error(self, got: object) -> ParamError:
        return ParamError(
            self.name, f"{{{self.name}}} must be {self.allowed()}, got {literal(got)}"
        )

    def parse(self, text: str) -> Value:
        """Read the command line's text for this parameter; ``ParamError`` when out of range."""
        text = text.strip()
        if self.none_ok and text.lower() == "none":
            return None
        if self.kind in ("choice", "intensity"):
            return self.check(text.lower())
        try:
            value: Value = int(text) if self.kind == "int" else float(text)
        except ValueError:
            raise self._error(text or "nothing") from None
        return self.check(value)

    def check(self, value: object) -> Value:
        """Validate a Python value for this parameter and return it normalised."""
        if value is None:
            if self.none_ok:
                return None
            raise self._error(value)
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise self._error(value)
            return value
        if self.kind == "intensity":
            return self._intensity(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._error(repr(value))
        if self.kind == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise self._error(value)
                value = int(value)
        else:
            value = float(value)
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        if not (math.isfinite(value) and low <= value <= high):
            raise self._error(value)
        return value

    def _intensity(self, value: object) -> str:
        """``"N/S"`` normalised (``"3/60"``), from that text or an ``Intensity``."""
        if isinstance(value, Intensity):
            restarts, within = value.max_restarts, value.within
        elif isinstance(value, str):
            n_text, slash, s_text = value.partition("/")
            try:
                restarts, within = int(n_text), float(s_text)
            except ValueError:
                raise self._error(value or "nothing") from None
            if not slash:
                raise self._error(value)
        else:
            raise self._error(repr(value))
        if not (0 <= restarts <= _MAX_RESTARTS and 0 < within <= _MAX_WITHIN):
            raise self._error(value)
        try:
            Intensity(restarts, within)  # e.g. a window that rounds to 0 ns
        except ConfigError:
            raise self._error(value) from None
        return f"{restarts}/{int(within) if within.is_integer() else within!r}"


@attrs.frozen
class Metric:
    """One number a run reports; the sweep averages it over seeds with a 95% interval."""

    name: str
    help: str


@attrs.frozen
class RunSeeds:
    """The seeds of one run: the world's random stream, and the core's jitter draws.

    The world (latencies, failures, periods) draws from its own ``random.Random``. The
    supervised tasks draw their jitter as a seeded supervisor does in production: each from its
    own stream, ``fsm._streams.stream_seed(tasks, name, 0)``. Neither seed depends on the
    policy, so every policy of a sweep meets the same world *and* gives each task the same draws
    for a given run index (common random numbers: differences between policies are measured far
    more sharply).
    ``policy`` seeds one stream shared by all entities, for the ``contention`` model's clients
    (the AWS experiment as published); it does depend on the policy.
    """

    world: int
    policy: int
    tasks: int = 0

    def world_rng(self) -> random.Random:
        """A fresh generator for the world model."""
        return random.Random(self.world)

    def policy_rng(self) -> random.Random:
        """A fresh generator for draws shared by every entity (``contention``)."""
        return random.Random(self.policy)

    def task_stream(self, name: str) -> int:
        """The starting state of task ``name``'s own stream, as ``CoreConfig(seed=tasks)``
        derives it for the first task of that name (``fsm._streams.next_uniform`` draws from it)."""
        return stream_seed(self.tasks, name, 0)


@attrs.frozen
class RunResult:
    """What one run produced.

    Attributes:
        metrics: the scenario's metrics, by name (NaN: no value in this run).
        rate: attempts per bin of ``rate_bin_ns`` from t = 0 (only when series were asked for).
        rate_bin_ns: the width of one bin of ``rate``.
        durations: samples of the scenario's completion-type time in seconds (for plots).
    """

    metrics: dict[str, float]
    rate: tuple[int, ...] = ()
    rate_bin_ns: int = 0
    durations: tuple[float, ...] = ()


@attrs.frozen
class PolicyDefaults:
    """The backoff a scenario compares by default: one policy per jitter, same base and cap."""

    first: float
    max: float
    factor: float = 2.0
    jitters: tuple[JitterPolicy, ...] = tuple(JitterPolicy)

    def policies(self) -> list[tuple[str, BackoffPolicy]]:
        """``[(jitter name, BackoffPolicy(first, max, factor, jitter)), ...]``."""
        return [
            (j.value, BackoffPolicy(self.first, self.max, self.factor, jitter=j))
            for j in self.jitters
        ]


# -- the parameters several scenarios share, defined once ----------------------------------------


def tasks_param(
    default: int, high: int, help: str = "supervised tasks using the dependency"
) -> Param:
    """``tasks``: how many tasks a scenario supervises."""
    return Param("tasks", "int", default, help, low=1, high=high)


def horizon_param(default: float, help: str = "simulated time (s)", *, low: float = 1e-9) -> Param:
    """``horizon``: how much simulated time a run covers."""
    return Param("horizon", "float", default, help, low=low, high=1e7)


#: ``latency``: how long an attempt at a dependency that is down takes to fail.
LATENCY = Param(
    "latency", "float", 0.1, "time until a failed attempt reports (s)", low=0.0, high=3600.0
)

#: The supervisor's default backoff (``BackoffPolicy()``'s first and max), one per jitter.
SUPERVISOR_BACKOFF = PolicyDefaults(first=0.2, max=30.0)


def check_latency_advances_time(
    params: Mapping[str, Value], policy: BackoffPolicy, *, why: str = ""
) -> None:
    """``ParamError`` when failed attempts report at once and the backoff never waits.

    Then simulated time would not advance while the dependency is down: the run would spin.
    """
    if p_ns(params, "latency") == 0 and policy.ceiling_ns == 0:
        raise ParamError(
            "latency",
            "{latency} must be > 0 when the backoff never waits (max 0): "
            f"simulated time would not advance{why}",
        )


RunFn = Callable[[Mapping[str, Value], BackoffPolicy, RunSeeds, bool], RunResult]
CheckFn = Callable[[Mapping[str, Value], BackoffPolicy], None]


def _no_check(params: Mapping[str, Value], policy: BackoffPolicy) -> None:
    """Every combination of valid parameters and policy can run."""


@attrs.frozen
class Scenario:
    """A world model the simulator can run: parameters, metrics and the run function.

    Attributes:
        name: what the command calls it.
        summary: one line for ``--help``.
        params: its parameters, in the order the command shows them.
        metrics: what each run reports, in the order of the table's columns.
        run_fn: ``run_fn(params, policy, seeds, series) -> RunResult`` (a module-level
            function, so it pickles by reference into worker processes).
        policies: the policies compared when the command is given none.
        seeds: the default number of seeds.
        durations: what ``RunResult.durations`` measures (the plot's label).
        check_fn: ``check_fn(params, policy)`` raises ``ParamError`` for a combination that
            cannot run (for instance one where simulated time would never advance); called
            before any run, in the calling process.
    """

    name: str
    summary: str
    params: tuple[Param, ...]
    metrics: tuple[Metric, ...]
    run_fn: RunFn = attrs.field(repr=False)
    policies: PolicyDefaults
    seeds: int = 20
    durations: str = "completion time (s)"
    check_fn: CheckFn = attrs.field(default=_no_check, repr=False)

    def param(self, name: str) -> Param:
        """The parameter called ``name``."""
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params)
        raise ParamError(name, literal(f"{self.name} has no parameter {name!r} (it has: {known})"))

    def resolve(self, given: Mapping[str, object] | None = None) -> dict[str, Value]:
        """Every parameter's value: ``given`` validated, the rest at their defaults."""
        given = dict(given or {})
        out: dict[str, Value] = {}
        for p in self.params:
            out[p.name] = p.check(given.pop(p.name)) if p.name in given else p.default
        if given:
            self.param(next(iter(given)))  # raises, naming the unknown parameter
        return out

    def run(
        self,
        policy: BackoffPolicy,
        seeds: RunSeeds,
        params: Mapping[str, object] | None = None,
        *,
        series: bool = False,
    ) -> RunResult:
        """One run with ``policy`` under ``seeds``; ``params`` are validated first."""
        if not isinstance(policy, BackoffPolicy):
            raise ConfigError("policy", f"expected a BackoffPolicy, got {policy!r}")
        resolved = self.resolve(params)
        self.check_fn(resolved, policy)
        return self.run_fn(resolved, policy, seeds, series)
