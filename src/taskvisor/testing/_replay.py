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

import enum
from collections.abc import Sequence
from typing import Any

import attrs

from taskvisor.fsm import (
    INHERIT,
    BackoffPolicy,
    ControllerConfig,
    ControllerSpec,
    CoreConfig,
    Input,
    RestartMode,
    RestartPolicy,
    SubscriberInfo,
    TaskDefaults,
    TaskId,
    TaskSpec,
    ns_to_s,
)

__all__ = ["render_script"]

_SPEC_FIELDS = ("restart", "backoff", "timeout", "max_retries")
_BACKOFF_FIELDS = ("first", "max", "factor", "jitter", "floor")
_DEFAULT_BACKOFF = BackoffPolicy()
_DEFAULT_DEFAULTS = TaskDefaults()
_DEFAULT_CONTROLLER = ControllerConfig()

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
    """Renders values as constructor calls and collects the names they need."""

    def __init__(self) -> None:
        self.names: set[str] = {"CheckedCore"}

    def name(self, name: str) -> str:
        self.names.add(name)
        return name

    def call(self, cls: str, args: Sequence[str]) -> str:
        return f"{self.name(cls)}({', '.join(args)})"

    def kw(self, v: object, field: str) -> str:
        return f"{field}={self.value(getattr(v, field))}"

    def value(self, v: object) -> str:
        """Python source that evaluates to a value equal to ``v``."""
        if v is None or isinstance(v, bool | int | str | float):
            return repr(v)
        if v is INHERIT:
            return self.name("INHERIT")
        if isinstance(v, enum.Enum):
            return f"{self.name(type(v).__name__)}.{v.name}"
        if isinstance(v, tuple):
            inner = ", ".join(self.value(x) for x in v)
            return f"({inner},)" if len(v) == 1 else f"({inner})"
        if isinstance(v, TaskId):
            return self.call("TaskId", [str(v.value)])
        if isinstance(v, RestartPolicy):
            if v.mode is RestartMode.ALWAYS:
                return f"{self.name('RestartPolicy')}.always({v.interval!r})"
            return f"{self.name('RestartPolicy')}.{v.mode.name}"
        special = self._special(v)
        if special is not None:
            return special
        cls: Any = type(v)
        if attrs.has(cls):
            args = []
            for field in attrs.fields(cls):
                current = getattr(v, field.name)
                if field.init and not (
                    field.default is not attrs.NOTHING and current == field.default
                ):
                    args.append(f"{field.name}={self.value(current)}")
            return self.call(type(v).__name__, args)
        return repr(v)

    def changed(self, v: object, default: object, names: Sequence[str]) -> list[str]:
        """``name=value`` for each field of ``v`` that differs from ``default``'s."""
        return [self.kw(v, f) for f in names if getattr(v, f) != getattr(default, f)]

    def _special(self, v: object) -> str | None:
        """Values whose constructor takes other arguments than their fields."""
        if isinstance(v, BackoffPolicy):
            return self.call("BackoffPolicy", self.changed(v, _DEFAULT_BACKOFF, _BACKOFF_FIELDS))
        if isinstance(v, TaskSpec):
            fn = self.call("TaskFn", [repr(v.name), "body"])
            kw = [self.kw(v, f) for f in _SPEC_FIELDS if getattr(v, f) is not INHERIT]
            return self.call("TaskSpec", [fn, f"name={v.name!r}", *kw])
        if isinstance(v, TaskDefaults):
            return self.call("TaskDefaults", self.changed(v, _DEFAULT_DEFAULTS, _SPEC_FIELDS))
        if isinstance(v, ControllerConfig):
            names = ("queue_capacity", "max_slot_queue")
            return self.call("ControllerConfig", self.changed(v, _DEFAULT_CONTROLLER, names))
        if isinstance(v, ControllerSpec):
            args = [self.value(v.task_spec), self.value(v.admission), f"slot={v.slot!r}"]
            return self.call("ControllerSpec", args)
        if isinstance(v, SubscriberInfo):
            return self.call("SubscriberInfo", [repr(v.name), str(v.capacity)])
        if isinstance(v, CoreConfig):
            args = [repr(ns_to_s(v.grace_ns)), f"force_wait={ns_to_s(v.force_wait_ns)!r}"]
            if v.max_concurrent is not None:
                args.append(f"max_concurrent={v.max_concurrent}")
            if v.subscribers:
                args.append(f"subscribers=[{', '.join(self.value(s) for s in v.subscribers)}]")
            if v.defaults != _DEFAULT_DEFAULTS:
                args.append(self.kw(v, "defaults"))
            if v.controller is not None:
                args.append(self.kw(v, "controller"))
            return self.call("CoreConfig", args)
        return None

    def imports(self) -> str:
        fsm = sorted(self.names - {"CheckedCore"})
        lines = ["from taskvisor.fsm import (", *(f"    {n}," for n in fsm), ")"]
        return "\n".join([*lines, "from taskvisor.testing import CheckedCore"])


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
