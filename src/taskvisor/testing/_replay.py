"""Counterexamples as Python source: a script that replays an input sequence through the core.

Owns: ``render_script``, which turns a configuration and a list of ``(now, input, draws)``
steps into a self-contained script. The script builds the same ``CoreConfig`` and specs, feeds
every input through ``CheckedCore.feed`` (which calls ``fsm.step`` and checks the step against
I1-I8 and the contract model) with the recorded random draws, prints each step's effects, and
ends with the failed check. Values are written as constructor calls (``TaskSpec(...)``,
``BackoffPolicy(...)``, ``AttemptEnded(...)``), so the script needs nothing but taskvisor.
Plain Python: no Hypothesis, no I/O.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Sequence
from typing import Any

import attrs

from taskvisor import fsm
from taskvisor.fsm import (
    INHERIT,
    ControllerSpec,
    CoreConfig,
    Input,
    RestartMode,
    RestartPolicy,
    SubscriberInfo,
    TaskDefaults,
    TaskFn,
    TaskId,
    TaskSpec,
    ns_to_s,
)

__all__ = ["render_script"]

#: The keyword fields of ``TaskSpec`` after the task and its name.
_SPEC_FIELDS = (
    "restart",
    "backoff",
    "timeout",
    "max_retries",
    "reset_after",
    "intensity",
    "critical",
    "retry_on",
    "give_up_after",
    "watchdog",
)
_DEFAULT_DEFAULTS = TaskDefaults()

_HEADER = '''\
"""{title}

{message}

Found by taskvisor.testing.explore (breadth-first, so no shorter input sequence breaks this).
Each input goes through CheckedCore.feed, which calls taskvisor.fsm.step and checks the step
(fsm.check_step and the contract model); the random draws the core makes are replayed in order.
{ending}
"""

{imports}


async def body(ctx: object) -> None:
    """A task body; the core never runs it."""


class Draws:
    """The core's random source, replaying the draws each step made (then 0.0)."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def random(self) -> float:
        return self.values.pop(0) if self.values else 0.0


config = {config}
draws = Draws()
core = CheckedCore(config, draws)
STEPS = [  # (now in ns, input, the draws the step makes)
{steps}
]
for now, inp, values in STEPS:
    draws.values[:] = values
    effects = core.feed(inp, now)
    print(now, inp, effects, sep="\\n    ")
'''


class _Writer:
    """Renders values as constructor calls and collects the imports they need."""

    def __init__(self) -> None:
        self.names: set[str] = set()  # from taskvisor.fsm
        self.others: set[tuple[str, str]] = set()  # (module, name)

    def name(self, name: str) -> str:
        self.names.add(name)
        return name

    def type_name(self, cls: type) -> str:
        """The name a script refers to ``cls`` by (a builtin, a core name, or imported)."""
        name = cls.__qualname__
        if getattr(builtins, name, None) is cls:
            return name
        if getattr(fsm, name, None) is cls:
            return self.name(name)
        self.others.add((cls.__module__, name))
        return name

    def call(self, cls: type, args: Sequence[str]) -> str:
        return f"{self.type_name(cls)}({', '.join(args)})"

    def kw(self, v: object, field: str) -> str:
        return f"{field}={self.value(getattr(v, field))}"

    def value(self, v: object) -> str:
        """Python source that evaluates to a value equal to ``v``."""
        if isinstance(v, TaskId):  # before int: a TaskId may be an int underneath
            return self.call(TaskId, [str(v.value)])
        if v is None or isinstance(v, bool | int | str | float):
            return repr(v)
        if v is INHERIT:
            return self.name("INHERIT")
        if isinstance(v, enum.Enum):
            return f"{self.type_name(type(v))}.{v.name}"
        if isinstance(v, tuple) and hasattr(type(v), "_fields"):  # the core's named tuples
            fields: tuple[str, ...] = getattr(type(v), "_fields")  # noqa: B009 - mypy
            return self.call(type(v), [f"{f}={self.value(getattr(v, f))}" for f in fields])
        if isinstance(v, tuple):
            inner = ", ".join(self.value(x) for x in v)
            return f"({inner},)" if len(v) == 1 else f"({inner})"
        if isinstance(v, type):
            return self.type_name(v)
        if isinstance(v, BaseException):
            return self.call(type(v), [repr(arg) for arg in v.args])
        if isinstance(v, TaskId):
            return self.call(TaskId, [str(v.value)])
        if isinstance(v, RestartPolicy):
            if v.mode is RestartMode.ALWAYS:
                jitter = f", jitter={v.jitter!r}" if v.jitter else ""
                return f"{self.type_name(RestartPolicy)}.always({v.interval!r}{jitter})"
            return f"{self.type_name(RestartPolicy)}.{v.mode.name}"
        if isinstance(v, TaskSpec):
            fn = self.call(TaskFn, [repr(v.name), "body"])
            kw = [
                self.kw(v, f)
                for f in _SPEC_FIELDS
                if getattr(v, f) is not INHERIT and getattr(v, f) is not False
            ]
            if v.retry_budget is not None:  # retry shaping: shown when set
                kw.append(self.kw(v, "retry_budget"))
            if v.start_jitter:
                kw.append(self.kw(v, "start_jitter"))
            return self.call(TaskSpec, [fn, f"name={v.name!r}", *kw])
        if isinstance(v, CoreConfig):
            return self._core_config(v)
        if isinstance(v, SubscriberInfo):
            return self.call(SubscriberInfo, [repr(v.name), str(v.capacity)])
        if isinstance(v, ControllerSpec):
            args = [self.value(v.task_spec), self.value(v.admission), f"slot={v.slot!r}"]
            return self.call(ControllerSpec, args)
        if attrs.has(type(v)):
            return self._attrs(v)
        return repr(v)

    def _attrs(self, v: object) -> str:
        """An attrs value as keywords: the fields that differ from the class's defaults.

        A class with its own ``__init__`` (``init=False``) takes its shown fields as keywords
        (``BackoffPolicy``, ``TaskDefaults``, ``Intensity``, ``ControllerConfig``).
        """
        cls: Any = type(v)
        custom = hasattr(cls, "__attrs_init__")
        default = _default_of(cls)
        args = []
        for field in attrs.fields(cls):
            if not field.init or (custom and not field.repr):
                continue
            current = getattr(v, field.name)
            if default is not None:
                if current == getattr(default, field.name):
                    continue
            elif not custom and field.default is not attrs.NOTHING and current == field.default:
                continue
            args.append(f"{field.name}={self.value(current)}")
        return self.call(cls, args)

    def _core_config(self, v: CoreConfig) -> str:
        args = [repr(ns_to_s(v.grace_ns)), f"force_wait={ns_to_s(v.force_wait_ns)!r}"]
        if v.max_concurrent is not None:
            args.append(f"max_concurrent={v.max_concurrent}")
        if v.subscribers:
            args.append(f"subscribers=[{', '.join(self.value(s) for s in v.subscribers)}]")
        if v.defaults != _DEFAULT_DEFAULTS:
            args.append(self.kw(v, "defaults"))
        for name in ("controller", "intensity"):
            if getattr(v, name, None) is not None:
                args.append(self.kw(v, name))
        if v.retry_budgets:
            budgets = ", ".join(f"{name!r}: {self.value(b)}" for name, b in v.retry_budgets)
            args.append(f"retry_budgets={{{budgets}}}")
        if v.seed is not None:
            args.append(f"seed={v.seed!r}")
        return self.call(CoreConfig, args)

    def imports(self) -> str:
        lines = ["from taskvisor.fsm import (", *(f"    {n}," for n in sorted(self.names)), ")"]
        lines += [f"from {module} import {name}" for module, name in sorted(self.others)]
        return "\n".join([*lines, "from taskvisor.testing import CheckedCore"])


_DEFAULTS_OF: dict[type, object] = {}


def _default_of(cls: Any) -> object | None:
    """``cls()``, when the class can be built with no arguments (cached); else None."""
    if cls not in _DEFAULTS_OF:
        try:
            _DEFAULTS_OF[cls] = cls()
        except Exception:  # a value with required arguments: every field is shown
            _DEFAULTS_OF[cls] = None
    return _DEFAULTS_OF[cls]


def render_script(
    config: CoreConfig,
    steps: Sequence[tuple[int, Input, tuple[float, ...]]],
    *,
    title: str,
    message: str,
    final_check: str = "",
) -> str:
    """A runnable script that replays ``steps`` under ``config``; ``final_check`` ends it."""
    w = _Writer()
    config_src = w.value(config)
    rows = [f"    ({now}, {w.value(inp)}, {w.value(tuple(draws))})," for now, inp, draws in steps]
    ending = (
        "The assert at the end fails."
        if final_check
        else "The last step raises (fsm.InvariantViolation, or the core's own error)."
    )
    text = _HEADER.format(
        title=title,
        ending=ending,
        message=message.replace('"""', "'''"),
        imports=w.imports() if not final_check else _with_checks(w, final_check),
        config=config_src,
        steps="\n".join(rows),
    )
    return text + final_check


def _with_checks(w: _Writer, final_check: str) -> str:
    for name in ("Finished", "ShutdownDone", "TaskId"):
        if name in final_check:
            w.name(name)
    return w.imports()
